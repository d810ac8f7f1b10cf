using Formanova.Host.Security;
using Formanova.Modules.Shared.Api;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Formanova.Host.Api.OpenApi;

/// <summary>
/// Ends each operation's description with the scope its key needs, as <see cref="SecuritySetup.RequireApiScopes"/>
/// settled it (the endpoint's <c>RequiredScopeMetadata</c>, else read for GET/HEAD and write for the rest), so the
/// endpoints' own descriptions do not repeat it and cannot contradict it.
/// </summary>
internal sealed class ScopeTransformer : IOpenApiOperationTransformer
{
    public Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var scope = context.Description.ActionDescriptor.EndpointMetadata.OfType<ScopeRequirementMetadata>().LastOrDefault()?.Scope;
        if (scope is null)
        {
            return Task.CompletedTask;
        }

        var line = $"Scope: `{scope}`.";
        operation.Description = string.IsNullOrWhiteSpace(operation.Description) ? line : $"{operation.Description.TrimEnd()}\n\n{line}";
        if (operation.Responses?.GetValueOrDefault("403") is OpenApiResponse forbidden)
        {
            forbidden.Description = scope == ApiScopes.Admin
                ? "The API key lacks the `admin` scope."
                : $"The API key lacks the `{scope}` scope (or `admin`).";
        }

        return Task.CompletedTask;
    }
}
