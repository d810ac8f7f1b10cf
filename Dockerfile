# syntax=docker/dockerfile:1
# Formanova: one image for every role (Formanova__Roles=api, worker, or both by default). Point Database__*,
# Cache__Redis and Temporal__Address at real services in production; docs/operations.md lists the settings.

# Restore reads only project and props files. Copying just those, with their folders, from a throwaway stage
# keeps the restore layer cached across source edits, and picks up a new project (Formanova.DevServer) with
# no edit here, which a hand-written COPY per csproj would not.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS restore-inputs
WORKDIR /src
COPY . .
RUN mkdir /restore \
    && find . -type f \( -name '*.csproj' -o -name 'Directory.*.props' -o -name 'Directory.*.targets' \
        -o -name 'global.json' -o -iname 'nuget.config' \) -exec cp --parents {} /restore/ \;

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY --from=restore-inputs /restore/ ./
RUN dotnet restore Formanova.Host/Formanova.Host.csproj
COPY . .
RUN dotnet publish Formanova.Host/Formanova.Host.csproj -c Release -o /app --no-restore /p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
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
