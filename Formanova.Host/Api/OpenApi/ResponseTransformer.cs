using System.Globalization;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.OpenApi;

namespace Formanova.Host.Api.OpenApi;

/// <summary>
/// Completes each operation's responses. Which problems an operation can return is decided in one place,
/// <c>ApiConventions</c> (and by endpoints for their own); here every error response gets the ProblemDetails schema
/// under <c>application/problem+json</c> and a description saying when it happens. Responses declared with a media
/// type but no CLR type (downloads, exports, the event stream) get their media types, which the generator drops.
/// </summary>
internal sealed class ResponseTransformer : IOpenApiOperationTransformer
{
    private const string ProblemJson = "application/problem+json";

    private static readonly Dictionary<int, string> Descriptions = new()
    {
        [400] = "The request is invalid. A field that failed is named in `errors` (its camelCase path) with its messages.",
        [401] = "No API key was sent, or the key is invalid, revoked or expired.",
        [403] = "The API key lacks the scope this operation needs.",
        [404] = "The resource the route names does not exist.",
        [409] = "The request conflicts with the current state of the resource, or an `Idempotency-Key` was reused for a "
            + "different request.",
        [413] = "The request body is larger than the configured limit.",
        [415] = "The request body's `Content-Type` is not one this operation reads.",
        [422] = "The request is well-formed but cannot be carried out on this resource.",
        [429] = "Too many requests from this API key (or address); retry after `Retry-After` seconds.",
        [500] = "An unexpected error. Quote `traceId` when reporting it.",
        [503] = "A dependency (the database or the workflow engine) is unavailable, or the host is shutting down; retry after "
            + "`Retry-After` seconds.",
    };

    public Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        operation.Responses ??= [];
        foreach (var declared in context.Description.ActionDescriptor.EndpointMetadata.OfType<IProducesResponseTypeMetadata>()
            .Where(p => (p.Type is null || p.Type == typeof(void)) && p.ContentTypes.Any()))
        {
            AddMediaTypes(operation, declared);
        }

        foreach (var (key, response) in operation.Responses)
        {
            if (response is not OpenApiResponse concrete || !int.TryParse(key, CultureInfo.InvariantCulture, out var status)
                || status < 400)
            {
                continue;
            }

            if (Descriptions.TryGetValue(status, out var description)
                && (string.IsNullOrEmpty(concrete.Description) || concrete.Description == ReasonPhrases.GetReasonPhrase(status)))
            {
                concrete.Description = description;
            }

            var schema = new OpenApiSchemaReference(
                status == StatusCodes.Status400BadRequest ? ProblemSchemas.ValidationProblem : ProblemSchemas.Problem,
                context.Document);
            if (concrete.Content is not { Count: > 0 } content)
            {
                concrete.Content = new Dictionary<string, OpenApiMediaType> { [ProblemJson] = new() { Schema = schema } };
            }
            else if (content.TryGetValue(ProblemJson, out var media) && media.Schema is OpenApiSchemaReference { Reference.Id: var id }
                && id is ProblemSchemas.Problem or ProblemSchemas.ValidationProblem)
            {
                media.Schema = schema;
            }
        }

        return Task.CompletedTask;
    }

    private static void AddMediaTypes(OpenApiOperation operation, IProducesResponseTypeMetadata declared)
    {
        var key = declared.StatusCode.ToString(CultureInfo.InvariantCulture);
        var responses = operation.Responses ??= [];
        if (responses.GetValueOrDefault(key) is not OpenApiResponse response)
        {
            response = new OpenApiResponse { Description = ReasonPhrases.GetReasonPhrase(declared.StatusCode) };
            responses[key] = response;
        }

        var content = response.Content ??= new Dictionary<string, OpenApiMediaType>();
        foreach (var mediaType in declared.ContentTypes)
        {
            // Text is a string; other bodies are described by their media type (OpenAPI 3.1 leaves the schema out).
            content.TryAdd(
                mediaType,
                mediaType.StartsWith("text/", StringComparison.Ordinal)
                    ? new OpenApiMediaType { Schema = new OpenApiSchema { Type = JsonSchemaType.String } }
                    : new OpenApiMediaType());
        }
    }
}
