# Opinion Response Desk (舆情回应台): one image for the web app, the worker and the migrations.
#   docker build -t opinion-desk .
#   docker run --rm opinion-desk opinion-desk --help
# The production stack is docker-compose.yml; this image is what its web, worker and migrate run.

FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A virtualenv keeps the installed project in one directory the runtime stage copies whole.
RUN python -m venv /opt/opinion-desk
ENV PATH=/opt/opinion-desk/bin:$PATH

WORKDIR /src
COPY pyproject.toml ./
COPY worker.py ./
COPY desk ./desk
COPY workflows ./workflows
COPY activities ./activities
COPY api ./api
RUN pip install . \
    # bytecode at build time: the workflow sandbox re-imports workflows/ for every run, and the image is read-only
    && python -m compileall -q /opt/opinion-desk


FROM python:3.11-slim

ENV PATH=/opt/opinion-desk/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DESK_DATA_DIR=/var/lib/opinion-desk \
    DESK_API_HOST=0.0.0.0 \
    DESK_API_PORT=8000

RUN groupadd --system --gid 10001 desk \
    && useradd --system --uid 10001 --gid desk --home-dir /var/lib/opinion-desk --shell /usr/sbin/nologin desk \
    && install -d -o desk -g desk -m 0750 /var/lib/opinion-desk

COPY --from=build /opt/opinion-desk /opt/opinion-desk

USER desk
WORKDIR /var/lib/opinion-desk
EXPOSE 8000

# The web app; docker-compose.yml runs `opinion-desk worker` and `opinion-desk db upgrade` from the same image.
CMD ["opinion-desk", "api"]
