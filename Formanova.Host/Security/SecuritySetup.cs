using System.Globalization;
using System.Threading.RateLimiting;
using Formanova.Modules.Shared;
using Formanova.Modules.Shared.Api;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace Formanova.Host.Security;

/// <summary>API-key authentication, scope policies, rate limits, transport hardening and secret protection.</summary>
internal static class SecuritySetup
{
    public static IServiceCollection AddFormanovaSecurity(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AuthOptions>().Bind(configuration.GetSection(AuthOptions.SectionName));
        services.AddValidatedOptions<RateLimitingOptions, RateLimitingOptionsValidator>(configuration, RateLimitingOptions.SectionName);
        services.AddValidatedOptions<HttpSecurityOptions, HttpSecurityOptionsValidator>(configuration, HttpSecurityOptions.SectionName);

        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(
                ApiKeyAuthenticationHandler.SchemeName,
                null);
        services.AddAuthorization(options =>
        {
            foreach (var scope in ApiScopes.All)
            {
                // No scheme of its own: the API key is the default scheme, which the authentication middleware has
                // already run. Naming it here made the policy evaluator authenticate a second time and merge the
                // principal into a copy, on every request.
                options.AddPolicy(PolicyFor(scope), policy => policy.AddRequirements(new ScopeRequirement(scope)));
            }
        });
        services.AddHostedService<BootstrapKeyService>();
        RemoveContentTypeRouting(services);

        AddRateLimiting(services);
        AddTransport(services, configuration);

        // Webhook secrets and other values at rest are protected with a key ring kept in the data directory.
        services.AddDataProtection().SetApplicationName("Formanova");
        services.AddOptions<KeyManagementOptions>().Configure<IOptions<FormanovaOptions>, ILoggerFactory>((keys, formanova, loggers) =>
            keys.XmlRepository = new FileSystemXmlRepository(
                new DirectoryInfo(Path.Combine(formanova.Value.ResolveDataDirectory(), "keys")), loggers));
        return services;
    }

    public static WebApplication UseFormanovaSecurity(this WebApplication app)
    {
        if (app.Services.GetServices<MatcherPolicy>().Any(policy => IsContentTypeRouting(policy.GetType())))
        {
            throw new InvalidOperationException(
                "Routing's content-type policy was registered again after AddFormanovaSecurity; it would " +
                "answer 415 before authentication.");
        }

        var http = app.Services.GetRequiredService<IOptions<HttpSecurityOptions>>().Value;
        if (http.Hsts)
        {
            app.UseHsts();
        }

        if (http.HttpsRedirection)
        {
            app.UseHttpsRedirection();
        }

        app.UseMiddleware<SecurityHeadersMiddleware>();
        if (http.CorsAllowedOrigins.Length > 0)
        {
            app.UseCors();
        }

        app.UseAuthentication();
        if (app.Services.GetRequiredService<IOptions<RateLimitingOptions>>().Value.Enabled)
        {
            app.UseRateLimiter();
        }

        app.UseAuthorization();
        return app;
    }

    /// <summary>
    /// Puts a scope policy on every endpoint of the group: the scope an endpoint declares with
    /// <see cref="RequiredScopeMetadata"/>, else read for GET/HEAD and write for the rest. Runs last, so it sees
    /// the metadata that groups and endpoints added.
    /// </summary>
    public static TBuilder RequireApiScopes<TBuilder>(this TBuilder group) where TBuilder : IEndpointConventionBuilder
    {
        group.Finally(endpoint =>
        {
            var scope = endpoint.Metadata.OfType<RequiredScopeMetadata>().LastOrDefault()?.Scope ?? DeriveScope(endpoint.Metadata);
            endpoint.Metadata.Add(new ScopeRequirementMetadata(scope));
            endpoint.Metadata.Add(new AuthorizeAttribute { Policy = PolicyFor(scope) });
        });
        return group;
    }

    /// <summary>Health and metrics stay open unless Auth:OpenProbes is false, then they need the read scope.</summary>
    public static TBuilder ApplyProbePolicy<TBuilder>(
        this TBuilder builder,
        IConfiguration configuration) where TBuilder : IEndpointConventionBuilder
    {
        var open = configuration.GetValue($"{AuthOptions.SectionName}:{nameof(AuthOptions.OpenProbes)}", true);
        if (open)
        {
            builder.AllowAnonymous();
        }
        else
        {
            builder.RequireAuthorization(PolicyFor(ApiScopes.Read));
        }

        return builder;
    }

    internal static string PolicyFor(string scope) => $"scope:{scope}";

    /// <summary>
    /// Routing matches an endpoint's declared body content types (Accepts, and every minimal-API JSON body) while it
    /// picks the endpoint, and answers a mismatch with its own 415 endpoint, which carries no authorization: a
    /// caller without a key learned 415 instead of 401, and a read-only key 415 instead of 403. Without that policy
    /// routing picks the real endpoint, its scope policy runs, and only then does the endpoint check the content
    /// type (415 from minimal APIs' JSON binding, or from the upload endpoints). No two endpoints here share a route
    /// and differ only by content type, which is all the policy is for.
    /// </summary>
    private static void RemoveContentTypeRouting(IServiceCollection services)
    {
        services.AddRouting();
        var registered = services.Where(d => d.ServiceType == typeof(MatcherPolicy) && IsContentTypeRouting(d.ImplementationType)).ToList();
        if (registered.Count == 0)
        {
            throw new InvalidOperationException(
                "Routing's content-type matcher policy (AcceptsMatcherPolicy) was not found; check the ASP.NET Core version.");
        }

        foreach (var descriptor in registered)
        {
            services.Remove(descriptor);
        }
    }

    private static bool IsContentTypeRouting(Type? type) => type?.FullName == "Microsoft.AspNetCore.Routing.Matching.AcceptsMatcherPolicy";

    private static string DeriveScope(IList<object> metadata)
    {
        var methods = metadata.OfType<HttpMethodMetadata>().LastOrDefault()?.HttpMethods ?? [];
        return methods.Count > 0 && methods.All(m => HttpMethods.IsGet(m) || HttpMethods.IsHead(m)) ? ApiScopes.Read : ApiScopes.Write;
    }

    private static void AddRateLimiting(IServiceCollection services)
    {
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<RateLimitingOptions>>((limiter, configured) =>
        {
            var settings = configured.Value;
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
            {
                if (!context.Request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase))
                {
                    return RateLimitPartition.GetNoLimiter("unlimited");
                }

                var keyId = context.User.FindFirst(System.Security.Claims.ClaimTypes.NameIdentifier)?.Value;
                return keyId is not null
                    ? RateLimitPartition.GetTokenBucketLimiter($"key:{keyId}", _ => Bucket(settings.PerKey))
                    : RateLimitPartition.GetTokenBucketLimiter(
                        $"ip:{context.Connection.RemoteIpAddress}",
                        _ => Bucket(settings.PerAddress));
            });
            limiter.AddPolicy(RateLimitPolicies.Expensive, context =>
            {
                var partition = context.User.FindFirst(System.Security.Claims.ClaimTypes.NameIdentifier)?.Value
                    ?? $"ip:{context.Connection.RemoteIpAddress}";
                return RateLimitPartition.GetTokenBucketLimiter($"expensive:{partition}", _ => Bucket(settings.Expensive));
            });
            limiter.OnRejected = async (context, cancellationToken) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
                var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
                context.HttpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                await context.HttpContext.RequestServices.GetRequiredService<IProblemDetailsService>()
                    .TryWriteAsync(new ProblemDetailsContext
                    {
                        HttpContext = context.HttpContext,
                        ProblemDetails =
                            {
                                Status = StatusCodes.Status429TooManyRequests,
                                Title = "Too Many Requests",
                                Detail = $"Rate limit exceeded; retry after {seconds} s.",
                            },
                    });
            };
        });
        services.AddRateLimiter(_ => { });
    }

    private static TokenBucketRateLimiterOptions Bucket(RateLimitingOptions.Bucket bucket)
    {
        // Refill every 100 ms (or slower for sub-10/s rates) so short bursts are smoothed without a timer per request.
        var period = TimeSpan.FromMilliseconds(Math.Max(100, 1000 / bucket.PermitsPerSecond));
        return new TokenBucketRateLimiterOptions
        {
            TokenLimit = bucket.Burst,
            TokensPerPeriod = Math.Max(1, (int)Math.Round(bucket.PermitsPerSecond * period.TotalSeconds)),
            ReplenishmentPeriod = period,
            QueueLimit = 0,
            AutoReplenishment = true,
        };
    }

    private static void AddTransport(IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<HttpSecurityOptions>>((kestrel, http) =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MinRequestBodyDataRate = new MinDataRate(
                http.Value.MinRequestBodyBytesPerSecond,
                TimeSpan.FromSeconds(http.Value.RequestBodyGracePeriodSeconds));
            kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(http.Value.RequestHeadersTimeoutSeconds);
        });

        var origins = configuration.GetSection($"{HttpSecurityOptions.SectionName}:{nameof(HttpSecurityOptions.CorsAllowedOrigins)}")
            .Get<string[]>() ?? [];
        if (origins.Length > 0)
        {
            services.AddCors(cors => cors.AddDefaultPolicy(policy => policy
                .WithOrigins(origins)
                .WithHeaders("Authorization", "X-Api-Key", "Content-Type", "Idempotency-Key", "Last-Event-ID")
                .WithMethods("GET", "POST", "PUT", "PATCH", "DELETE")
                .WithExposedHeaders("Location", "Retry-After")));
        }
    }
}
