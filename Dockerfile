# One image for every role of the scaled-out topology (docker-compose.yml): Ray head, Ray worker, bot.
# `pip install torch==2.13.0` takes PyPI's default build: CUDA on x86_64, so GPU workers work as they are.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gan gan
COPY bot bot
COPY train train
RUN pip install --no-cache-dir torch==2.13.0 -e '.[ray]'
CMD ["python", "-m", "bot"]
