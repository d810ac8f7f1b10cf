using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Formanova.Host.Api.OpenApi;

/// <summary>
/// What the document says once, for every operation: info, a server that does not depend on the request, the tags
/// with their descriptions, the two ways to present an API key, the ProblemDetails schemas, and the
/// <c>required</c> list of schemas that only responses use (everything the server always writes).
/// </summary>
internal sealed class DocumentTransformer : IOpenApiDocumentTransformer
{
    public const string BearerScheme = "bearer";
    public const string ApiKeyHeaderScheme = "apiKeyHeader";

    private const string Description = """
        Formanova is a self-hostable ML workflow service: versioned ML.NET models, datasets with schemas, a durable event
        log, and Temporal workflows for training, batch scoring, promotion and processing jobs.

        **Authentication.** Every operation needs an API key, sent as `Authorization: Bearer <key>` or `X-Api-Key: <key>`.
        A key carries scopes (`read`, `predict`, `write`, `admin`; `admin` implies the others); each operation's
        description ends with the scope it needs. A missing or invalid key is a 401, a key without the scope a 403.

        **Errors.** Every error is an RFC 9457 problem (`application/problem+json`) with `status`, `title`, `detail`,
        `instance` and a `traceId` to quote in a report. A 400 from validation adds `errors`: a map from the camelCase
        field path to its messages. Unknown body fields are refused, not ignored.

        **Idempotency.** Operations that accept an `Idempotency-Key` header return the first outcome when repeated with
        the same key and request, and a 409 when the same key comes with a different request.

        **Pagination.** Lists return a page and the token of the next one (`nextPageToken` or `nextCursor`); pass it back
        as the operation's page parameter until it is null.

        **Rate limits.** Requests are limited per API key (per address before authentication); a 429 or 503 carries
        `Retry-After` in seconds.
        """;

    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Info = new OpenApiInfo
        {
            Title = "Formanova API",
            Version = "v1",
            Description = Description,
            Contact = new OpenApiContact { Name = "Formanova maintainers" },
            License = new OpenApiLicense { Name = "Proprietary", Identifier = "LicenseRef-Formanova" },
        };

        // The request's own host would make the document (and its snapshot) depend on who asked.
        document.Servers =
        [
            new OpenApiServer
            {
                Url = "{origin}",
                Description = "A Formanova host.",
                Variables = new Dictionary<string, OpenApiServerVariable>
                {
                    ["origin"] = new() { Default = "http://localhost:5080", Description = "Scheme, host and port of the host." },
                },
            },
        ];

        AddTags(document);
        AddSecurity(document);
        document.Components ??= new OpenApiComponents();
        document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        ProblemSchemas.Add(document);
        ResponseRequired.Apply(document);
        NullableReferences.Apply(document);
        return Task.CompletedTask;
    }

    private static void AddTags(OpenApiDocument document)
    {
        var used = (document.Paths ?? [])
            .SelectMany(p => p.Value.Operations ?? [])
            .SelectMany(o => o.Value.Tags ?? new HashSet<OpenApiTagReference>())
            .Select(t => t.Name)
            .ToHashSet(StringComparer.Ordinal);
        var missing = used.Except(ApiTags.All.Select(t => t.Name)).ToList();
        if (missing.Count > 0)
        {
            throw new InvalidOperationException($"Tags without a description in {nameof(ApiTags)}: {string.Join(", ", missing)}.");
        }

        document.Tags = new HashSet<OpenApiTag>(
            ApiTags.All.Where(t => used.Contains(t.Name)).Select(t => new OpenApiTag { Name = t.Name, Description = t.Description }));
    }

    private static void AddSecurity(OpenApiDocument document)
    {
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes = new Dictionary<string, IOpenApiSecurityScheme>
        {
            [BearerScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "An API key as `Authorization: Bearer <key>`.",
            },
            [ApiKeyHeaderScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = "X-Api-Key",
                Description = "An API key as `X-Api-Key: <key>`.",
            },
        };

        // Two requirements: either one is enough.
        document.Security =
        [
            new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, document)] = [] },
            new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(ApiKeyHeaderScheme, document)] = [] },
        ];
    }
}
