"""The YAML catalog: the packaged example loads, and every error names the file, line and field."""

from pathlib import Path

import pytest

from bot.config import (
    EXAMPLE_CATALOG_PATH,
    Catalog,
    CatalogError,
    load_catalog,
    parse_catalog,
)

EXAMPLE = EXAMPLE_CATALOG_PATH.read_text(encoding="utf-8")


def line_of(text: str, needle: str) -> int:
    """1-based number of the only line containing `needle`."""
    lines = [number for number, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(lines) == 1, f"{needle!r} is on lines {lines}"
    return lines[0]


def broken_example(tmp_path: Path, old: str, new: str) -> tuple[Path, str]:
    """The example with one line changed, written as tmp_path/firefighter.yaml."""
    assert EXAMPLE.count(old) == 1, f"{old!r} is not unique in the example"
    text = EXAMPLE.replace(old, new)
    path = tmp_path / "firefighter.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text


def errors_of(path: Path) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    lines = str(caught.value).splitlines()
    assert len(lines) == len(caught.value.problems)
    return lines


def test_the_packaged_example_is_the_default_and_loads_every_section() -> None:
    catalog = load_catalog(None)

    assert [p.key for p in catalog.priorities] == ["P1", "P2", "P3", "P4", "P5"]
    assert catalog.priority("P2").response_type == "critical"
    assert catalog.priority("P4").response_type == "normal"
    assert {c.name for c in catalog.categories} >= {
        "Payments", "Checkout", "Search", "Back office", "Data platform",
    }  # fmt: skip
    assert catalog.group(catalog.category("payments").group).name == "Commerce"
    assert [r.key for r in catalog.roles][:2] == ["commander", "communications_lead"]
    assert catalog.default_environment.key == "PRD"
    assert catalog.needs_postmortem("P1", "PRD") and not catalog.needs_postmortem("P1", "STG")
    assert catalog.impacts.priority_for("customers", "high") == "P1"
    assert catalog.impacts.priority_for("employees", "high") == "P2"
    assert catalog.impacts.priority_for("business", "none") is None
    assert str(catalog.reminders.tz) == "Europe/Paris"
    assert catalog.slack.command == "/incident"
    assert catalog.slack.reactions.timeline == "pushpin"
    assert catalog.announcement_channel_for("P1") == "incidents-major"
    assert catalog.announcement_channel_for("P3") == "incidents"
    assert catalog.pagerduty.service("payments").service_id == "PPAY001"
    assert catalog.jira.status_for("SEC", "closed") == "Resolved"
    assert catalog.jira.status_for("PAY", "closed") == "Done"
    assert catalog.confluence.parent_page_id == "123456"


def test_a_copy_of_the_example_loads_from_the_path_given(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")

    assert load_catalog(path) == load_catalog(None)


def test_a_minimal_catalog_needs_only_groups_and_categories() -> None:
    catalog = parse_catalog(
        "groups: [{key: web, name: Web}]\ncategories: [{key: site, name: Site, group: web}]\n"
    )

    assert catalog.priority("P1").update_reminder_minutes == 30
    assert [t.name for t in catalog.impacts.types] == [
        "Business", "Customers", "Sellers", "Employees",
    ]  # fmt: skip
    assert catalog.slack.channel_name_template == "inc-{date:%Y%m%d}-{id}-{slug}"
    assert catalog.slack.archive_delay_hours == 24
    assert catalog.reminders.role_gap_minutes == 15


def test_a_wrong_type_deep_in_a_list_names_the_file_line_and_field(tmp_path: Path) -> None:
    path, text = broken_example(
        tmp_path, '      users: ["ops.lead@example.com"]', "      users: [42]"
    )

    [error] = errors_of(path)

    line = line_of(text, "users: [42]")
    assert error.startswith(f"{path}:{line}:")
    assert "categories[3].responders.users[0]:" in error
    assert "Input should be a valid string" in error


def test_an_unknown_key_is_an_error_that_suggests_the_right_one(tmp_path: Path) -> None:
    path, text = broken_example(
        tmp_path, "    deploy_warning: true             # P1", "    deploy_warnig: true  # P1"
    )

    [error] = errors_of(path)

    assert error == (
        f"{path}:{line_of(text, 'deploy_warnig')}:5: categories[0].deploy_warnig: "
        "unknown key 'deploy_warnig' (did you mean 'deploy_warning'?)"
    )


def test_an_unknown_time_zone_names_the_file_line_and_field(tmp_path: Path) -> None:
    path, text = broken_example(tmp_path, "timezone: Europe/Paris", "timezone: Europe/Pariss")

    [error] = errors_of(path)

    assert error.startswith(f"{path}:{line_of(text, 'Europe/Pariss')}:3: reminders.timezone: ")
    assert "unknown time zone 'Europe/Pariss'" in error


def test_a_category_naming_an_unknown_environment_points_at_the_reference(tmp_path: Path) -> None:
    path, text = broken_example(
        tmp_path, "    environments: [PRD, STG]", "    environments: [PROD, STG]"
    )

    [error] = errors_of(path)

    column = text.splitlines()[line_of(text, "[PROD, STG]") - 1].index("PROD") + 1
    assert error.startswith(f"{path}:{line_of(text, '[PROD, STG]')}:{column}: ")
    assert "categories[0].environments[0]: unknown environment 'PROD'" in error
    assert "did you mean 'PRD'?" in error


def test_a_category_naming_an_unknown_role_is_an_error(tmp_path: Path) -> None:
    path, text = broken_example(
        tmp_path, "    roles: [scribe]                  #", "    roles: [pilot]  #"
    )

    [error] = errors_of(path)

    assert error.startswith(f"{path}:{line_of(text, '[pilot]')}:")
    assert "categories[0].roles[0]: unknown role 'pilot'" in error


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path, text = broken_example(tmp_path, "    jira: {project: CHK}", "    jira: {project: CHK")

    [error] = errors_of(path)

    assert error.startswith(f"{path}:")
    reported_line = int(error.split(":")[1])
    assert (
        line_of(text, "jira: {project: CHK")
        <= reported_line
        <= line_of(text, "jira: {project: CHK") + 2
    )
    assert "YAML syntax error" in error


def test_every_problem_is_listed_one_per_line_in_file_order(tmp_path: Path) -> None:
    text = EXAMPLE.replace("    ack_sla_minutes: 30\n", "    ack_sla_minutes: soon\n").replace(
        "timezone: Europe/Paris", "timezone: Mars/Olympus"
    )
    path = tmp_path / "firefighter.yaml"
    path.write_text(text, encoding="utf-8")

    errors = errors_of(path)

    assert [e.split(": ")[1] for e in errors] == [
        "priorities[1].ack_sla_minutes",
        "reminders.timezone",
    ]
    assert int(errors[0].split(":")[1]) == line_of(text, "ack_sla_minutes: soon")


def test_a_key_repeated_in_one_mapping_is_an_error_not_silently_overwritten(tmp_path: Path) -> None:
    path, text = broken_example(
        tmp_path, "  command: /incident ", "  command: /incident\n  command: /inc "
    )

    [error] = errors_of(path)

    assert error.startswith(f"{path}:{line_of(text, 'command: /inc ')}:3: slack.command: ")
    assert "duplicate key 'command'" in error


def test_an_unquoted_time_of_day_is_refused_with_a_hint(tmp_path: Path) -> None:
    path, _text = broken_example(tmp_path, '    start: "09:00"', "    start: 9:00")

    [error] = errors_of(path)

    assert "reminders.office_hours.start: expected a quoted time of day" in error


def test_two_categories_with_the_same_key_are_an_error_on_the_second(tmp_path: Path) -> None:
    path, text = broken_example(tmp_path, "\n  - key: checkout\n", "\n  - key: payments\n")

    [error] = errors_of(path)

    second = [n for n, line in enumerate(text.splitlines(), 1) if line == "  - key: payments"][1]
    assert error.startswith(f"{path}:{second}:")
    assert "categories[1].key: duplicate key 'payments' (already used by categories[0])" in error


def test_an_impact_level_must_map_to_a_defined_priority(tmp_path: Path) -> None:
    path, text = broken_example(tmp_path, "      priority: P4\n", "      priority: P7\n")

    [error] = errors_of(path)

    assert error.startswith(f"{path}:{line_of(text, 'priority: P7')}:")
    assert "impacts.levels[2].priority: Input should be 'P1', 'P2', 'P3', 'P4' or 'P5'" in error


def test_every_priority_from_p1_to_p5_must_be_defined() -> None:
    text = EXAMPLE.replace("  - key: P5\n", "  - key: P4\n", 1)

    with pytest.raises(CatalogError) as caught:
        parse_catalog(text, "firefighter.yaml")

    message = str(caught.value)
    assert "priorities[4].key: duplicate key 'P4'" in message
    assert "priorities: missing priorities: P5" in message


def test_a_channel_name_template_without_the_incident_id_is_refused() -> None:
    text = EXAMPLE.replace('"inc-{date:%Y%m%d}-{id}-{slug}"', '"inc-{slug}"')

    with pytest.raises(CatalogError) as caught:
        parse_catalog(text, "firefighter.yaml")

    assert "slack.channel_name_template: the template must contain {id}" in str(caught.value)


def test_a_select_field_without_options_is_refused() -> None:
    text = EXAMPLE.replace("    options: [France, Germany, Italy, Spain, United Kingdom]\n", "")

    with pytest.raises(CatalogError) as caught:
        parse_catalog(text, "firefighter.yaml")

    assert "custom_fields[0].options: a multi_select field needs options" in str(caught.value)


def test_a_missing_file_is_reported_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"

    with pytest.raises(CatalogError) as caught:
        load_catalog(path)

    assert str(caught.value).startswith(f"{path}: cannot read the file")


def test_the_catalog_model_can_be_built_in_code_and_checks_references() -> None:
    with pytest.raises(ValueError, match="unknown group 'nope'"):
        Catalog.model_validate(
            {
                "groups": [{"key": "web", "name": "Web"}],
                "categories": [{"key": "site", "name": "Site", "group": "nope"}],
            }
        )
