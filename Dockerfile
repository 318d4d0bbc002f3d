# Tessera: one image for the web process and the Celery workers.
FROM node:20-bookworm-slim AS editor
WORKDIR /src/frontend/editor
COPY frontend/editor/package.json frontend/editor/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/editor/ ./
RUN npm run build

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 TESSERA_VAR_DIR=/var/lib/tessera
WORKDIR /app
COPY requirements.txt constraints.txt ./
RUN pip install --no-cache-dir -r requirements.txt -c constraints.txt
COPY . .
COPY --from=editor /src/frontend/static/editor/ frontend/static/editor/
RUN mkdir -p /var/lib/tessera && SECRET_KEY=build-only python manage.py collectstatic --noinput
RUN useradd --system --home /app tessera && chown -R tessera /var/lib/tessera
USER tessera
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
