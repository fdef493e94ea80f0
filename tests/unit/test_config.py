"""Settings: read once from TOML and the STOCKBRIDGE_ environment, validated, errors name keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from stockbridge.config import (
    BOOTSTRAP_KEY_ENV,
    DATABASE_ENV,
    DEFAULT_DATABASE,
    ConfigError,
    Settings,
    load_settings,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "stockbridge.toml"
    path.write_text(text)
    return path


def test_defaults_without_a_file_or_environment() -> None:
    # Given no file and an empty environment
    # When settings are loaded
    settings = load_settings(None, env={})

    # Then the documented defaults apply
    assert settings.database.url == DEFAULT_DATABASE
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8080)
    assert settings.ingest.max_events_per_request == 1000
    assert settings.bootstrap_key is None


def test_a_toml_file_is_read(tmp_path: Path) -> None:
    # Given a file that sets a value in each section
    path = write(
        tmp_path,
        """
        [server]
        port = 9090
        [database]
        url = "postgresql://db.example/stock"
        [ingest]
        max_events_per_request = 500
        [logging]
        level = "debug"
        json = false
        """,
    )

    # When it is loaded
    settings = load_settings(path, env={})

    # Then every value is taken, the rest keep their defaults
    assert settings.server.port == 9090
    assert settings.server.host == "127.0.0.1"
    assert settings.database.url == "postgresql://db.example/stock"
    assert settings.ingest.max_events_per_request == 500
    assert (settings.logging.level, settings.logging.json_logs) == ("debug", False)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[server]\nprot = 9000\n", "server.prot"),
        ("[databse]\nurl = 'x.db'\n", "databse"),
        ("[ingest]\nmax_events = 10\n", "ingest.max_events"),
        ("verbose = true\n", "verbose"),
    ],
)
def test_an_unknown_key_is_an_error_that_names_it(tmp_path: Path, text: str, named: str) -> None:
    # Given a file with a misspelt key
    path = write(tmp_path, text)

    # When it is loaded
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})

    # Then the error names the key and the file
    assert named in str(caught.value)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[server]\nport = 70000\n", "server.port"),
        ("[server]\nport = 'eighty'\n", "server.port"),
        ("[logging]\nlevel = 'loud'\n", "logging.level"),
        ("[ingest]\nmax_events_per_request = 0\n", "ingest.max_events_per_request"),
    ],
)
def test_a_bad_value_is_an_error_that_names_its_key(tmp_path: Path, text: str, named: str) -> None:
    # Given a file with a value out of range or of the wrong type
    path = write(tmp_path, text)

    # When it is loaded
    # Then the error names the key
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_settings(path, env={})


def test_a_file_that_is_not_toml_is_an_error(tmp_path: Path) -> None:
    # Given a file that is not valid TOML
    path = write(tmp_path, "[server\nport = \n")

    # When it is loaded
    # Then a ConfigError says so and names the file
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        load_settings(path, env={})
    assert str(path) in str(caught.value)


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    # Given a path where there is no file
    # When it is loaded
    # Then a ConfigError says it was not found
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml", env={})


def test_the_environment_supplies_the_database_and_the_bootstrap_key() -> None:
    # Given the two environment variables
    env = {DATABASE_ENV: "/var/lib/stockbridge/hub.db", BOOTSTRAP_KEY_ENV: "sbk_from_env"}

    # When settings are loaded without a file
    settings = load_settings(None, env=env)

    # Then both are taken
    assert DATABASE_ENV == "STOCKBRIDGE_DATABASE"
    assert BOOTSTRAP_KEY_ENV == "STOCKBRIDGE_BOOTSTRAP_KEY"
    assert settings.database.url == "/var/lib/stockbridge/hub.db"
    assert settings.bootstrap_key == "sbk_from_env"


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    # Given a file naming one database and the environment another
    path = write(tmp_path, "[database]\nurl = 'from-file.db'\n[server]\nport = 9001\n")

    # When settings are loaded
    settings = load_settings(path, env={DATABASE_ENV: "from-env.db"})

    # Then the environment's database is used and the rest of the file still applies
    assert settings.database.url == "from-env.db"
    assert settings.server.port == 9001


def test_empty_environment_variables_are_ignored(tmp_path: Path) -> None:
    # Given the variables set but empty
    path = write(tmp_path, "[database]\nurl = 'from-file.db'\n")

    # When settings are loaded
    settings = load_settings(path, env={DATABASE_ENV: "", BOOTSTRAP_KEY_ENV: ""})

    # Then they change nothing
    assert settings.database.url == "from-file.db"
    assert settings.bootstrap_key is None


def test_the_bootstrap_key_is_never_shown_or_dumped() -> None:
    # Given settings holding a bootstrap key
    settings = load_settings(None, env={BOOTSTRAP_KEY_ENV: "sbk_secret_value"})

    # When they are printed or dumped
    shown = repr(settings) + str(settings) + str(settings.model_dump())

    # Then the key does not appear
    assert "sbk_secret_value" not in shown


def test_with_overrides_returns_a_changed_copy() -> None:
    # Given settings with a bootstrap key
    base = load_settings(None, env={BOOTSTRAP_KEY_ENV: "sbk_k"})

    # When dotted overrides are applied (None meaning "leave as it is")
    changed = base.with_overrides(
        **{"server.port": 9000, "database.url": "other.db", "server.host": None}
    )

    # Then the copy has them, keeps everything else, and the original is untouched
    assert (changed.server.port, changed.database.url) == (9000, "other.db")
    assert changed.server.host == base.server.host
    assert changed.bootstrap_key == "sbk_k"
    assert (base.server.port, base.database.url) == (8080, DEFAULT_DATABASE)


def test_with_overrides_can_set_top_level_values_and_aliases() -> None:
    # Given default settings
    # When the bootstrap key and the aliased logging.json are overridden
    changed = Settings().with_overrides(bootstrap_key="sbk_new", **{"logging.json": False})

    # Then both are applied
    assert changed.bootstrap_key == "sbk_new"
    assert changed.logging.json_logs is False


@pytest.mark.parametrize(
    ("override", "named"),
    [({"server.port": -1}, "server.port"), ({"server.prot": 1}, "server.prot")],
)
def test_with_overrides_validates_and_names_the_key(
    override: dict[str, object], named: str
) -> None:
    # Given default settings
    # When an invalid override is applied
    # Then it is refused, naming the key
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        Settings().with_overrides(**override)
