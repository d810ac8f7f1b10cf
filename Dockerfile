# syntax=docker/dockerfile:1
# Formanova: one container with the REST API, the Temporal worker and (by default) the embedded
# Temporal-compatible server. Point Database__*, Cache__Redis and Temporal__Address at real services in production.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Restore first, from the project files alone, so the package layer is cached across source changes.
COPY Directory.Build.props Directory.Packages.props Formanova.sln ./
COPY Formanova.Host/Formanova.Host.csproj Formanova.Host/
COPY Formanova.Modules/Formanova.Modules.csproj Formanova.Modules/
RUN dotnet restore Formanova.Host/Formanova.Host.csproj
COPY appsettings*.json ./
COPY Formanova.Host/ Formanova.Host/
COPY Formanova.Modules/ Formanova.Modules/
RUN dotnet publish Formanova.Host/Formanova.Host.csproj -c Release -o /app --no-restore /p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
# libgomp1: OpenMP runtime that ML.NET's native trainers (LightGBM, FastTree) load. curl: the HEALTHCHECK probe.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app ./
RUN mkdir -p /data && chown "$APP_UID" /data
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
