from pollserver import create_app
from pollserver.extensions import db


def test_healthz_reports_database_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_is_503_with_the_reason_when_the_database_is_unreachable(app_config, tmp_path):
    if app_config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # Nothing listens on port 1: the connection is refused at once.
        unreachable = "postgresql+psycopg://postgres@127.0.0.1:1/test"
    else:
        unreachable = f"sqlite:///{tmp_path / 'no-such-directory' / 'db.sqlite3'}"
    app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": unreachable})
    response = app.test_client().get("/healthz")
    body = response.get_json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["database"].startswith("unreachable: OperationalError")
    assert body["error"]["code"] == 503
    assert response.headers["Retry-After"] == "5"
    with app.app_context():
        db.engine.dispose()


def test_livez_answers_without_touching_the_database(app_config):
    app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": "sqlite:////nonexistent/dir/x.db"})
    response = app.test_client().get("/livez")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    with app.app_context():
        db.engine.dispose()
