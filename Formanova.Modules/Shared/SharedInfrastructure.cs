using FluentValidation;
using Formanova.Modules.Shared.Api;
using Formanova.Modules.Shared.Caching;
using Formanova.Modules.Shared.Database;
using Formanova.Modules.Shared.Health;
using Formanova.Modules.Shared.Telemetry;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Shared;

/// <summary>Database, migrations, cache, metrics and health plumbing that every module builds on.</summary>
public static class SharedInfrastructure
{
    public static IServiceCollection AddFormanovaInfrastructure(this IServiceCollection services, IConfiguration configuration)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddSingleton<FormanovaMetrics>();

        services.AddValidatedOptions<FormanovaOptions, FormanovaOptionsValidator>(configuration, FormanovaOptions.SectionName);
        services.AddValidatedOptions<DatabaseOptions, DatabaseOptionsValidator>(configuration, DatabaseOptions.SectionName);
        services.AddValidatedOptions<CacheOptions, CacheOptionsValidator>(configuration, CacheOptions.SectionName);

        // Whether Redis exists decides which services are registered, so it is read here rather than through options.
        var redisConfigured = !string.IsNullOrWhiteSpace(configuration[$"{CacheOptions.SectionName}:{nameof(CacheOptions.Redis)}"]);
        AddDatabase(services);
        AddCache(services, redisConfigured);

        services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: ["ready"]);
        if (redisConfigured)
        {
            services.AddHealthChecks().AddCheck<RedisHealthCheck>("redis", tags: ["ready"]);
        }

        services.AddValidators(typeof(SharedInfrastructure).Assembly);
        return services;
    }

    /// <summary>
    /// Registers every FluentValidation validator of <paramref name="assembly"/> (internal ones included) against its
    /// <c>IValidator&lt;T&gt;</c>, where the request-validation convention of the endpoint groups looks for them.
    /// Singletons: a validator holds only its rules and singleton services.
    /// </summary>
    public static IServiceCollection AddValidators(this IServiceCollection services, System.Reflection.Assembly assembly)
    {
        ValidationConventions.Apply();
        return services.Scan(scan => scan
            .FromAssemblies(assembly)
            .AddClasses(classes => classes.AssignableTo(typeof(IValidator<>)), publicOnly: false)
            .As(type => type.GetInterfaces().Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IValidator<>)))
            .WithSingletonLifetime());
    }

    /// <summary>Registers a module's embedded migrations (<c>{folder}/NNNN_name.sql</c>) with the start-up migrator.</summary>
    internal static IServiceCollection AddMigrations(this IServiceCollection services, string module, string folder) =>
        services.AddSingleton(MigrationSet.FromEmbeddedResources(module, typeof(SharedInfrastructure).Assembly, folder));

    private static void AddDatabase(IServiceCollection services)
    {
        services.AddSingleton<IDatabase>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<DatabaseOptions>>().Value;
            return options.Provider == DatabaseProvider.Postgres
                ? new PostgresDatabase(options)
                : new SqliteDatabase(options, sp.GetRequiredService<IOptions<FormanovaOptions>>().Value.ResolveDataDirectory());
        });
        services.AddSingleton<Migrator>();

        // First hosted service on purpose: every later one may touch the schema.
        services.AddHostedService<MigrationHostedService>();
    }

    private static void AddCache(IServiceCollection services, bool redisConfigured)
    {
        services.AddSingleton(sp => new RedisConnection(
            sp.GetRequiredService<IOptions<CacheOptions>>(),
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<RedisConnection>>()));
        if (redisConfigured)
        {
            services.AddStackExchangeRedisCache(_ => { });
            services.AddOptions<RedisCacheOptions>().Configure<RedisConnection, IOptions<CacheOptions>>((redis, connection, cache) =>
            {
                redis.InstanceName = cache.Value.L2.InstanceName;
                redis.ConnectionMultiplexerFactory = connection.GetAsync;
            });
        }

        services.AddSingleton<ITwoLevelCache>(sp => new TwoLevelCache(
            sp.GetRequiredService<IOptions<CacheOptions>>(),
            sp.GetRequiredService<FormanovaMetrics>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<TwoLevelCache>>(),
            redisConfigured ? sp.GetRequiredService<Microsoft.Extensions.Caching.Distributed.IDistributedCache>() : null));
    }
}
