# newswatch image: one image for migrate, worker, beat and flower (the command picks the role).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy

RUN pip install --no-cache-dir uv \
    && useradd --create-home --uid 10001 newswatch

WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
# The folders compose mounts: a new named volume (metrics) copies their owner, so the
# unprivileged user can write it. ./config is a bind mount and keeps the host's owner
# (docs/operations.md says how to make it writable); data stays inside the container.
RUN uv sync --frozen --no-dev \
    && mkdir -p /app/data /app/metrics /app/config \
    && chown -R newswatch /app

USER newswatch
ENV PATH="/app/.venv/bin:$PATH" NEWSWATCH_DATA_DIR=/app/data
ENTRYPOINT ["newswatch"]
CMD ["run"]
