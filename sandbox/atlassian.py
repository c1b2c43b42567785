"""What the Atlassian sandboxes (Jira, Confluence) share about people: an Atlassian account (id,
display name, e-mail, API token), the bot's own, how new ones are numbered, and Basic auth with an
e-mail and an API token (Atlassian Cloud's scheme; Jira Data Center also takes the user name).

Each site's ``Account`` extends ``AtlassianAccount`` with what only it has (Jira's Data Center user
name and e-mail visibility, Confluence's write permission), passed to ``add_user`` by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sandbox.http import basic_credentials

BOT_DISPLAY_NAME = "FireFighter Bot"
BOT_EMAIL = "firefighter-bot@example.com"
BOT_ACCOUNT_ID = "712020:f1ref1ghter-b0t"
BOT_API_TOKEN = "sandbox-bot-api-token"


@dataclass
class AtlassianAccount:
    account_id: str
    display_name: str
    email: str
    api_token: str


A = TypeVar("A", bound=AtlassianAccount)


class AtlassianPeople(Generic[A]):
    """The accounts of a site (``account_type``), by account id, the bot's first (``bot``)."""

    account_type: type[A]
    accounts: dict[str, A]
    bot: A

    def _start_people(self) -> None:
        self.accounts = {}
        self.bot = self.add_user(
            BOT_DISPLAY_NAME, email=BOT_EMAIL, account_id=BOT_ACCOUNT_ID, api_token=BOT_API_TOKEN
        )

    def add_user(
        self,
        display_name: str,
        *,
        email: str,
        account_id: str | None = None,
        api_token: str | None = None,
        **details: Any,
    ) -> A:
        """A person with an account on the site; ``details`` are what only this site knows of
        them (its ``account_type``'s other fields). Ids and tokens not given are numbered in the
        order people are added."""
        number = len(self.accounts) + 1
        account = self.account_type(
            account_id=account_id or f"712020:sandbox-{number:04d}",
            display_name=display_name,
            email=email,
            api_token=api_token or f"sandbox-token-{number}",
            **details,
        )
        self.accounts[account.account_id] = account
        return account

    def _basic_account(
        self, header: str, user_names: Callable[[A], tuple[str, ...]] = lambda a: (a.email,)
    ) -> A | None:
        """The account an ``Authorization: Basic`` header names (one of its ``user_names``, the
        e-mail by default) with its API token; None otherwise."""
        credentials = basic_credentials(header)
        if credentials is None:
            return None
        user, secret = credentials
        return next(
            (a for a in self.accounts.values() if user in user_names(a) and secret == a.api_token),
            None,
        )
