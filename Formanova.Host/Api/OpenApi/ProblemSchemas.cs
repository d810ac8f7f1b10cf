using System.Text.Json.Nodes;
using Microsoft.OpenApi;

namespace Formanova.Host.Api.OpenApi;

/// <summary>
/// The ProblemDetails schemas as the service writes them. Generated from the CLR types they would forbid extra members
/// (the API refuses unknown members when it reads), but every problem carries <c>traceId</c> and some carry more
/// (<c>accepted</c>, <c>problems</c>, ...). Members the writer leaves out when null are not required.
/// </summary>
internal static class ProblemSchemas
{
    public const string Problem = "ProblemDetails";
    public const string ValidationProblem = "HttpValidationProblemDetails";

    public static void Add(OpenApiDocument document)
    {
        var schemas = document.Components!.Schemas!;
        schemas[Problem] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "An RFC 9457 problem. Extension members (such as `accepted` or `problems`) may follow.",
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["type"] = Text("A URI reference that identifies the problem type.", "uri-reference"),
                ["title"] = Text("A short summary of the problem type."),
                ["status"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.Integer,
                    Format = "int32",
                    Minimum = "400",
                    Maximum = "599",
                    Description = "The HTTP status code.",
                },
                ["detail"] = Text("What went wrong with this request."),
                ["instance"] = Text("The path of the request."),
                ["traceId"] = Text("The trace id of the request, to quote in a report."),
            },
            Required = new HashSet<string> { "status", "instance", "traceId" },
            AdditionalPropertiesAllowed = true,
            Examples =
            [
                new JsonObject
            {
                ["type"] = "https://tools.ietf.org/html/rfc9110#section-15.5.5",
                ["title"] = "Not Found",
                ["status"] = 404,
                ["detail"] = "Dataset 42 was not found.",
                ["instance"] = "/api/v1/datasets/42",
                ["traceId"] = "4bf92f3577b34da6a3ce929d0e0e4736",
            },
            ],
        };
        schemas[ValidationProblem] = new OpenApiSchema
        {
            Description = "A problem from validation: `errors` maps each camelCase field path to its messages.",
            AllOf =
            [
                new OpenApiSchemaReference(Problem, document),
                new OpenApiSchema
                {
                    Type = JsonSchemaType.Object,
                    Properties = new Dictionary<string, IOpenApiSchema>
                    {
                        ["errors"] = new OpenApiSchema
                        {
                            Type = JsonSchemaType.Object,
                            Description = "Messages by field path.",
                            AdditionalProperties = new OpenApiSchema
                            {
                                Type = JsonSchemaType.Array,
                                Items = new OpenApiSchema { Type = JsonSchemaType.String },
                            },
                        },
                    },
                    Required = new HashSet<string> { "errors" },
                },
            ],
            Examples =
            [
                new JsonObject
            {
                ["type"] = "https://tools.ietf.org/html/rfc9110#section-15.5.1",
                ["title"] = "One or more validation errors occurred.",
                ["status"] = 400,
                ["instance"] = "/api/v1/training-runs",
                ["traceId"] = "4bf92f3577b34da6a3ce929d0e0e4736",
                ["errors"] = new JsonObject { ["model"] = new JsonArray("A model name is required.") },
            },
            ],
        };
    }

    private static OpenApiSchema Text(string description, string? format = null) =>
        new() { Type = JsonSchemaType.String, Format = format, Description = description };
}
