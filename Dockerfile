# syntax=docker/dockerfile:1
# Formanova: one image for every role (Formanova__Roles=api, worker, or both by default). Point Database__*,
# Cache__Redis and Temporal__Address at real services in production; docs/operations.md lists the settings.

# Base images are pinned by digest, so a rebuild gets the same bytes until someone moves the pin on purpose: the tag
# says which release the digest is, and deploy/tools/pin-images.sh moves both together (docs/operations.md, "Image
# pins"). Keep the SDK's and the runtime's patch releases in step (SDK 10.0.401 carries runtime 10.0.12).

# Restore reads only project and props files. Copying just those, with their folders, from a throwaway stage
# keeps the restore layer cached across source edits, and picks up a new project (Formanova.DevServer) with
# no edit here, which a hand-written COPY per csproj would not.
FROM mcr.microsoft.com/dotnet/sdk:10.0.401@sha256:2fa828c68761b1b8c23d7662dc134421b9d3b59fe1425fdbc80804e390cdb24d AS restore-inputs
WORKDIR /src
COPY . .
RUN mkdir /restore \
    && find . -type f \( -name '*.csproj' -o -name 'Directory.*.props' -o -name 'Directory.*.targets' \
        -o -name 'global.json' -o -iname 'nuget.config' \) -exec cp --parents {} /restore/ \;

# Published for the image's runtime identifier so that it is ReadyToRun (precompiled; Formanova.Host.csproj sets
# PublishReadyToRun): the JIT no longer compiles the start-up path, which halves the time to /health/ready
# (docs/benchmarks.md, "The shipped host"). TARGETARCH is BuildKit's amd64 or arm64.
FROM mcr.microsoft.com/dotnet/sdk:10.0.401@sha256:2fa828c68761b1b8c23d7662dc134421b9d3b59fe1425fdbc80804e390cdb24d AS build
ARG TARGETARCH
WORKDIR /src
COPY --from=restore-inputs /restore/ ./
RUN rid="linux-$(if [ "$TARGETARCH" = arm64 ]; then echo arm64; else echo x64; fi)" \
    && dotnet restore Formanova.Host/Formanova.Host.csproj -r "$rid" \
    && echo "$rid" > /rid
COPY . .
RUN dotnet publish Formanova.Host/Formanova.Host.csproj -c Release -o /app --no-restore -r "$(cat /rid)" --self-contained false \
    /p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/aspnet:10.0.12@sha256:6a94333d37514e385650a3c81a55e5350b67253dbe136e9cf17e499c35606a8c AS runtime
# libgomp1: OpenMP runtime that ML.NET's native trainers (LightGBM, FastTree) load. curl: the HEALTHCHECK probe.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app ./
RUN mkdir -p /data && chown "$APP_UID" /data
# APP_UID is the unprivileged "app" user (1654) that the .NET images create; Kubernetes runAsUser matches it.
USER $APP_UID
ENV ASPNETCORE_ENVIRONMENT=Production \
    ASPNETCORE_HTTP_PORTS=8080 \
    Formanova__DataDirectory=/data \
    DOTNET_gcServer=0
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/health/ready || exit 1
ENTRYPOINT ["dotnet", "Formanova.Host.dll"]
