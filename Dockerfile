# The ride-duration web service. Build after `make train` (it copies models/lin_reg.*):
#   docker build -t ride-duration .   (or: make docker)
#   docker run -p 9696:9696 ride-duration
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Dependencies first, pinned, in their own layer: code changes do not reinstall them.
COPY requirements-runtime.txt ./
RUN pip install -r requirements-runtime.txt
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-deps .

COPY models/lin_reg.bin models/lin_reg.json ./models/
RUN useradd --create-home --uid 10001 app && chown -R app /app
USER app

EXPOSE 9696
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9696/health', timeout=2)"]
CMD ["ride-duration", "serve", "--host", "0.0.0.0", "--model", "models/lin_reg.bin"]
