# One image for every role of the scaled-out topology (docker-compose.yml): Ray head, Ray worker, bot.
# `pip install torch==2.13.0` takes PyPI's default build: CUDA on x86_64, so GPU workers work as they are.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gan gan
COPY bot bot
COPY train train
RUN pip install --no-cache-dir torch==2.13.0 -e '.[ray]'
# The bot's /metrics and /healthz (docs/operations.md): on every interface of the container, which
# publishes no port of its own; Prometheus reaches it over the compose network.
ENV EXPRESSIONS_METRICS_PORT=9100 EXPRESSIONS_METRICS_HOST=0.0.0.0
# Healthy only while connected to Discord, drawing within the draw timeout, and not draining.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 CMD python -c "import os, urllib.request; \
urllib.request.urlopen('http://127.0.0.1:' + os.environ['EXPRESSIONS_METRICS_PORT'] + '/healthz', timeout=4)"
CMD ["python", "-m", "bot"]
