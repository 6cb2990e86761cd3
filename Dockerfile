# The ride-duration web service. Build after `make train` (it copies models/lin_reg.*):
#   docker build -t ride-duration .   (or: make docker)
#   docker run -p 9696:9696 ride-duration
# BASE is any Debian-like image with python3 and its venv module: the official slim image by
# default, or one made from Debian's own packages where no registry is reachable (make
# docker-base; see the README). Behind a TLS-intercepting proxy, hand pip the proxy's CA
# bundle as a build secret; the install steps use it and no layer stores it:
#   DOCKER_BUILDKIT=1 docker build --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt .
ARG BASE=python:3.11.11-slim-bookworm
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH

WORKDIR /app
# A virtual environment: Debian's own Python refuses system-wide pip installs (PEP 668).
RUN python3 -m venv /opt/venv
# Dependencies first, pinned, in their own layer: code changes do not reinstall them.
COPY requirements-runtime.txt ./
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    pip install -r requirements-runtime.txt
COPY pyproject.toml README.md ./
COPY src ./src
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    pip install --no-deps .

COPY models/lin_reg.bin models/lin_reg.json ./models/
RUN useradd --create-home --uid 10001 app && chown -R app /app
USER app

EXPOSE 9696
# RIDE_DURATION_PORT moves the service and this check together (docker run -e ...).
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('RIDE_DURATION_PORT', '9696'), timeout=2)"]
CMD ["ride-duration", "serve", "--host", "0.0.0.0", "--model", "models/lin_reg.bin"]
