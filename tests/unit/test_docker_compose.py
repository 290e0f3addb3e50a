"""docker/docker-compose.yml, read as data (no Docker needed).

``docker compose config`` cannot run everywhere the tests run (no Compose
plugin here: README, Deploying), so its structure is checked here: every
service that keeps running has a health check, the servers start after the
database is set up, the jobs server runs no runner, no secret is in the
file or in an image, and the nginx template gets every placeholder it has.
"""

import os
import re
import sys

import pytest

yaml = pytest.importorskip("yaml")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCKER = os.path.join(ROOT, "docker")
sys.path.insert(0, ROOT)

from tests.deploy.reverse_proxy import placeholders, render_template  # noqa: E402


def read(*parts):
    with open(os.path.join(DOCKER, *parts)) as source:
        return source.read()


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(read("docker-compose.yml"))


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


def test_topology(services):
    assert set(services) == {
        "db",
        "init",
        "jobs",
        "webhook",
        "proxy",
        "prometheus",
        "grafana",
    }
    assert services["init"]["command"] == ["init"]
    assert services["jobs"]["command"] == ["jobs"]
    assert services["webhook"]["command"] == ["webhook"]
    # one image for the three Odoo services
    images = {services[name]["image"] for name in ("init", "jobs", "webhook")}
    assert len(images) == 1


def test_only_the_proxy_is_published(services):
    published = {name for name, service in services.items() if "ports" in service}
    assert published == {"proxy"}
    ports = [str(port).rsplit(":", 1)[1] for port in services["proxy"]["ports"]]
    assert sorted(ports) == ["443", "80"]


def test_every_long_running_service_has_a_health_check(services):
    for name, service in services.items():
        if name == "init":
            assert service["restart"] == "no"  # one-shot
            continue
        check = service.get("healthcheck")
        assert check and check.get("test"), f"{name} has no health check"
        assert not check.get("disable"), name
        assert service.get("restart") == "unless-stopped", name
    for name in ("jobs", "webhook"):
        assert "/web/health" in " ".join(services[name]["healthcheck"]["test"])
    assert "/web/health" in " ".join(services["proxy"]["healthcheck"]["test"])


def test_start_order(services):
    def depends(name):
        return {
            dep: condition["condition"]
            for dep, condition in services[name]["depends_on"].items()
        }

    assert depends("init") == {"db": "service_healthy"}
    assert depends("jobs") == {"init": "service_completed_successfully"}
    assert depends("webhook") == {
        "init": "service_completed_successfully",
        "jobs": "service_healthy",
    }
    assert depends("proxy") == {"webhook": "service_healthy"}


def test_runner_in_the_webhook_server_jobs_on_the_jobs_server(services):
    webhook = services["webhook"]["environment"]
    assert webhook["ODOO_JOBS_HOST"] == "jobs"
    assert str(webhook["ODOO_JOBS_PORT"]) == "8069"
    assert "root:" in webhook["MARKETPLACE_JOB_CHANNELS"]
    # the jobs server gets less CPU than the others when they all want it
    assert services["jobs"]["cpu_shares"] < 1024
    entrypoint = read("entrypoint.sh")
    jobs_role = entrypoint[entrypoint.index("            jobs)") :]
    jobs_role = jobs_role[: jobs_role.index(";;")]
    assert "channels = root:0" in jobs_role
    assert "max_cron_threads = 0" in jobs_role
    assert 'exec nice -n "$ODOO_JOBS_NICE" odoo' in entrypoint
    # queue_job's environment variables would override [queue_job]
    assert 'unset "$var"' in entrypoint


def test_database_created_on_first_start(services):
    entrypoint = read("entrypoint.sh")
    assert '-i "$MODULES" --stop-after-init' in entrypoint
    assert '-u "$MODULES" --stop-after-init' in entrypoint
    assert "MODULES=marketplace_connector,marketplace_shopify" in entrypoint


SECRET_WORDS = re.compile(r"(PASSWORD|KEY|TOKEN|SECRET)", re.IGNORECASE)


def test_no_secret_in_the_compose_file(compose, services):
    for name, service in services.items():
        environment = service.get("environment") or {}
        for variable, value in environment.items():
            if SECRET_WORDS.search(variable) and not variable.startswith("NGINX_SSL"):
                assert variable.endswith("_FILE"), f"{name}: {variable} in clear"
                assert str(value).startswith("/run/secrets/"), (name, variable)
    for secret in compose["secrets"].values():
        assert set(secret) == {"file"}
    for name in ("db", "init", "jobs", "webhook"):
        assert services[name]["secrets"], name


def test_no_secret_in_the_images():
    for dockerfile in ("Dockerfile", os.path.join("nginx", "Dockerfile")):
        text = read(dockerfile)
        assert not re.search(r"^\s*(ENV|ARG)\b.*" + SECRET_WORDS.pattern, text, re.M)
        assert "secrets" not in text
    config = read("odoo.conf")
    secret_option = r"^\s*(db_password|marketplace_encryption_key)\s*="
    assert not re.search(secret_option, config, re.M)


def compose_defaults(value):
    """``${VAR:-default}`` as Compose fills it when VAR is not set."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))


def test_nginx_template_gets_every_placeholder(services):
    template = read("nginx", "odoo.conf.template")
    environment = {
        name: compose_defaults(value)
        for name, value in services["proxy"]["environment"].items()
    }
    names = placeholders(template)
    assert names, "no placeholder found"
    missing = [name for name in names if name not in environment]
    assert not missing
    rendered = render_template(template, environment)
    assert "${" not in "\n".join(
        line for line in rendered.splitlines() if not line.lstrip().startswith("#")
    )
    assert "proxy_pass http://odoo_gevent" in rendered
    assert "server webhook:8072;" in rendered


def test_forwarded_headers_are_set_not_appended():
    template = "\n".join(
        line
        for line in read("nginx", "odoo.conf.template").splitlines()
        if not line.lstrip().startswith("#")
    )
    assert "$proxy_add_x_forwarded_for" not in template
    assert template.count("proxy_set_header X-Forwarded-For $remote_addr;") == 2
    assert "proxy_request_buffering on;" in template
