using Scalar.AspNetCore;

namespace Formanova.Host.Api.OpenApi;

/// <summary>
/// The OpenAPI document at <c>/openapi/v1.json</c> and its Scalar reference. Everything the document says about every
/// operation (schemes, scopes, problems, headers, schema types and bounds) is added here by transformers, so endpoints
/// only declare what is their own: a description, examples, and the statuses only they return.
/// </summary>
internal static class OpenApiSetup
{
    public static IServiceCollection AddFormanovaOpenApi(this IServiceCollection services) =>
        services.AddOpenApi(options =>
        {
            options.AddSchemaTransformer<ClrTypeSchemaTransformer>();
            options.AddSchemaTransformer<ValidatorSchemaTransformer>();
            options.AddOperationTransformer<ResponseTransformer>();
            options.AddOperationTransformer<HeaderTransformer>();
            options.AddOperationTransformer<ParameterTransformer>();
            options.AddOperationTransformer<ScopeTransformer>();
            options.AddOperationTransformer<ExampleTransformer>();
            options.AddDocumentTransformer<DocumentTransformer>();
        });

    public static IEndpointRouteBuilder MapApiDocs(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapOpenApi();
        // The page loads only from this host: Scalar.AspNetCore serves its script, the fonts fall back to the system's
        // instead of Scalar's CDN, and nothing reports to Scalar (telemetry, the AI agent, MCP). The developer
        // toolbar goes too: its Share and Deploy buttons upload the document to Scalar's cloud. A self-hosted
        // reference must work offline and tell no third party who reads it.
        // The document names a fixed server (so its snapshot does not depend on who asked); the page's "Send" goes to
        // the host that served it.
        endpoints.MapScalarApiReference((options, http) => options
            .AddServer($"{http.Request.Scheme}://{http.Request.Host}", "This host")
            .WithTitle("Formanova API reference")
            .HideDeveloperTools()
            .DisableDefaultFonts()
            .DisableTelemetry()
            .DisableAgent()
            .DisableMcp());
        return endpoints;
    }
}
