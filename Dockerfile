# syntax=docker/dockerfile:1
# Multi-stage: build wheels with the compiler toolchain, run on a slim image as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip
COPY pyproject.toml README.md slack-manifest.yaml ./
COPY bot ./bot
COPY handlers ./handlers
COPY integrations ./integrations
COPY storage ./storage
COPY sandbox ./sandbox
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FIREFIGHTER_HTTP_PORT=8080
RUN useradd --system --create-home --uid 10001 firefighter
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY slack-manifest.yaml /app/slack-manifest.yaml
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
WORKDIR /app
USER firefighter
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import os,urllib.request,sys; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"FIREFIGHTER_HTTP_PORT\",\"8080\")}/healthz', timeout=2); sys.exit(0)" || exit 1
# `run` migrates in its own process first (docker-entrypoint.sh); other commands go to firefighter.
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["run"]
