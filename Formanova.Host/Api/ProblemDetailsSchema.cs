using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Formanova.Host.Api;

/// <summary>
/// The ProblemDetails schemas as the API writes them. Their extension members (<c>traceId</c> on every problem, others
/// such as <c>accepted</c> on a 415) are serialized from <see cref="ProblemDetails.Extensions"/>, but the strict JSON
/// options (unmapped members disallowed) would describe the type as closed to extra members.
/// </summary>
internal static class ProblemDetailsSchema
{
    public static OpenApiOptions AddProblemDetailsSchema(this OpenApiOptions options) =>
        options.AddSchemaTransformer((schema, context, _) =>
        {
            if (typeof(ProblemDetails).IsAssignableFrom(context.JsonTypeInfo.Type) && schema is OpenApiSchema problem)
            {
                problem.AdditionalPropertiesAllowed = true;
                problem.AdditionalProperties = null;
                problem.Properties ??= new Dictionary<string, IOpenApiSchema>();
                problem.Properties["traceId"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.String,
                    Description = "The trace id of the request, to quote when reporting it.",
                };
            }

            return Task.CompletedTask;
        });
}
