using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Formanova.Modules.Shared;
using Formanova.Modules.Shared.Api;
using Formanova.Modules.Shared.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Microsoft.OpenApi;
using Scalar.AspNetCore;

namespace Formanova.Host.Api;

/// <summary>The API conventions: request logs, JSON, ProblemDetails for every error, OpenAPI and health.</summary>
internal static class ApiSetup
{
    public static IServiceCollection AddFormanovaApi(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<ApiOptions, ApiOptionsValidator>(configuration, ApiOptions.SectionName);
        services.AddValidators(typeof(ApiSetup).Assembly);

        services.AddOptions<JsonOptions>().Configure<IOptions<ApiOptions>>((json, api) =>
        {
            json.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
            json.SerializerOptions.MaxDepth = api.Value.MaxJsonDepth;
            json.SerializerOptions.AllowDuplicateProperties = false;

            // A null or a missing value for a non-nullable, required member is a 400 naming the field, not a
            // null that surfaces later as a 500.
            json.SerializerOptions.RespectNullableAnnotations = true;
            json.SerializerOptions.RespectRequiredConstructorParameters = true;

            // A misspelt field ("types" for "eventTypes") would otherwise be dropped without a word, and the request
            // would run on the default: a webhook for every event type instead of the ones asked for.
            json.SerializerOptions.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;

            // Strings that do not decode and numbers that are not finite are refused here, for every body, rather
            // than failing wherever a value is first used (a 500, or an event stored that cannot be read back).
            json.SerializerOptions.AddInputRules();
        });

        // Without this, minimal APIs answer a body they cannot read with a bare 400; throwing lets the
        // exception handler name the JSON path that failed.
        services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<ApiOptions>>((kestrel, api) =>
            kestrel.Limits.MaxRequestBodySize = api.Value.MaxRequestBodyBytes);

        services.AddOptions<ProblemDetailsOptions>().Configure<IOptions<ApiOptions>>((options, api) =>
            options.CustomizeProblemDetails = context => Customize(context, api.Value));
        services.AddProblemDetails();
        services.AddExceptionHandler<ApiExceptionHandler>();
        services.AddOpenApi(options => options.AddResponseSchemas().AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Formanova API";
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes["ApiKey"] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description
                    = "An API key, as 'Authorization: Bearer <key>' (or the 'X-Api-Key' header). Scopes: read, predict, write, admin.",
            };
            document.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("ApiKey", document)] = [] }];
            return Task.CompletedTask;
        }).AddOperationTransformer((operation, context, _) =>
        {
            // The header is declared only where it is honoured; every other endpoint ignores it.
            if (context.Description.ActionDescriptor.EndpointMetadata.OfType<IdempotencyKeyMetadata>().Any())
            {
                operation.Parameters ??= [];
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = IdempotencyKey.Header,
                    In = ParameterLocation.Header,
                    Description = $"1–{IdempotencyKey.MaxLength} visible ASCII characters, scoped to the API key. "
                        + "A repeat with the same request returns the first outcome; with a different request, 409.",
                    Schema = new OpenApiSchema
                    {
                        Type = JsonSchemaType.String,
                        MinLength = 1,
                        MaxLength = IdempotencyKey.MaxLength,
                        Pattern = "^[!-~]+$"
                    },
                });
            }

            return Task.CompletedTask;
        }));
        return services;
    }

    public static WebApplication UseFormanovaApi(this WebApplication app)
    {
        // First, so it wraps the exception handler and the status-code pages and logs the status they settle on.
        if (app.Services.GetRequiredService<IOptions<ApiOptions>>().Value.RequestLogging)
        {
            app.UseMiddleware<RequestLogMiddleware>();
        }

        app.UseExceptionHandler();
        app.UseStatusCodePages();
        return app;
    }

    public static RouteGroupBuilder MapHealthEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var health = endpoints.MapGroup("/health").WithTags("Health").ExcludeFromDescription();
        // MapHealthChecks answers every method; probes only GET or HEAD, and anything else should be a 405.
        var getOrHead = new HttpMethodMetadata([HttpMethods.Get, HttpMethods.Head]);
        health.MapHealthChecks("/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteHealthJson })
            .WithMetadata(getOrHead);
        var ready = new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready"), ResponseWriter = WriteHealthJson };
        health.MapHealthChecks("/ready", ready).WithMetadata(getOrHead);
        return health;
    }

    public static IEndpointRouteBuilder MapApiDocs(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapOpenApi();
        endpoints.MapScalarApiReference();
        return endpoints;
    }

    private static void Customize(ProblemDetailsContext context, ApiOptions api)
    {
        context.ProblemDetails.Instance ??= context.HttpContext.Request.Path;
        context.ProblemDetails.Extensions["traceId"] = Activity.Current?.TraceId.ToString() ?? context.HttpContext.TraceIdentifier;

        // Every 503 says when to come back, whichever path produced it (exception, workflow outcome, status page).
        var headers = context.HttpContext.Response.Headers;
        if (context.ProblemDetails.Status == StatusCodes.Status503ServiceUnavailable && !headers.ContainsKey(HeaderNames.RetryAfter))
        {
            headers.RetryAfter = api.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    private static Task WriteHealthJson(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        var body = new
        {
            status = report.Status.ToString(),
            totalDurationMs = Math.Round(report.TotalDuration.TotalMilliseconds, 1),
            checks = report.Entries.ToDictionary(
                entry => entry.Key,
                entry => new
                {
                    status = entry.Value.Status.ToString(),
                    description = entry.Value.Description,
                    durationMs = Math.Round(entry.Value.Duration.TotalMilliseconds, 1),
                    data = entry.Value.Data,
                }),
        };
        return context.Response.WriteAsJsonAsync(body, HealthJson, context.RequestAborted);
    }

    private static readonly JsonSerializerOptions HealthJson = new(JsonSerializerDefaults.Web);
}
