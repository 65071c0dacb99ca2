# Opinion Response Desk (舆情回应台): one image for the web app, the worker and the migrations.
#   docker build -t opinion-desk .
#   docker run --rm opinion-desk opinion-desk --help
# The production stack is docker-compose.yml; this image is what its web, worker and migrate run.

# The base image, pinned by digest so a rebuild gets the same bytes (a tag can be moved to other contents).
# TODO(digest): no registry was reachable when this was written and a made-up digest would only break the
# build, so this is still the tag. Pin it: docker buildx imagetools inspect python:3.11-slim
# --format '{{.Manifest.Digest}}', then PYTHON_IMAGE=python:3.11-slim@sha256:<that digest> (here, or
# docker build --build-arg PYTHON_IMAGE=…). tests/test_deploy_compose.py lists what is still unpinned.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A virtualenv keeps the installed project in one directory the runtime stage copies whole.
RUN python -m venv /opt/opinion-desk
ENV PATH=/opt/opinion-desk/bin:$PATH

WORKDIR /src
# Dependencies only from the lock, each checked against its sha256; then the desk itself with nothing more
# downloaded (setuptools, its build backend, is in the lock too).
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
COPY pyproject.toml ./
COPY worker.py ./
COPY desk ./desk
COPY workflows ./workflows
COPY activities ./activities
COPY api ./api
RUN pip install --no-deps --no-build-isolation . \
    # bytecode at build time: the workflow sandbox re-imports workflows/ for every run, and the image is read-only
    && python -m compileall -q /opt/opinion-desk


FROM ${PYTHON_IMAGE}

ENV PATH=/opt/opinion-desk/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DESK_DATA_DIR=/var/lib/opinion-desk \
    DESK_API_HOST=0.0.0.0 \
    DESK_API_PORT=8000

# The PDF reports (fpdf2): WenQuanYi Micro Hei, embedded in each PDF (the same package as
# scripts/system-deps installs on a development machine).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 desk \
    && useradd --system --uid 10001 --gid desk --home-dir /var/lib/opinion-desk --shell /usr/sbin/nologin desk \
    && install -d -o desk -g desk -m 0750 /var/lib/opinion-desk

COPY --from=build /opt/opinion-desk /opt/opinion-desk

USER desk
WORKDIR /var/lib/opinion-desk
EXPOSE 8000

# The web app; docker-compose.yml runs `opinion-desk worker` and `opinion-desk db upgrade` from the same image.
CMD ["opinion-desk", "api"]
