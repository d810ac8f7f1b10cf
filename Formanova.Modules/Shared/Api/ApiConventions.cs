using System.Reflection;
using FluentValidation;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Modules.Shared.Api;

/// <summary>
/// The conventions of every endpoint of a route group, applied once to the group (<c>/api/v1</c>) instead of endpoint
/// by endpoint:
/// <list type="bullet">
/// <item>each bound argument whose type has a FluentValidation validator (registered by
/// <see cref="SharedInfrastructure.AddValidators"/>) is validated before the handler runs; a failure is a 400
/// ValidationProblem keyed by the camelCase field path (<see cref="ValidationConventions"/>);</item>
/// <item>a query parameter the handler does not bind is a 400 ValidationProblem naming it (<see cref="StrictQuery"/>);</item>
/// <item>the ProblemDetails responses the pipeline can give are declared as endpoint metadata, so the OpenAPI
/// document lists them: 400 (input, the query string at the least), 401, 403 and 429 from the security pipeline, 404
/// where the route names a resource, 409 where an Idempotency-Key is honoured, 408, 413 and 415 where it reads a body,
/// 500 and 503; an error the handler declares without a body is declared as the ProblemDetails the status-code pages
/// give;</item>
/// <item>an endpoint that declares no summary gets one from its name (<c>GetTrainingRun</c>: "Get training run").</item>
/// </list>
/// </summary>
public static class ApiConventions
{
    private static readonly string[] ProblemJson = ["application/problem+json"];

    public static TBuilder WithApiConventions<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        builder.Add(StrictQuery.Add);
        builder.Add(AddValidation);
        builder.Finally(DeclareProblemsAndSummary);
        return builder;
    }

    private static void AddValidation(EndpointBuilder endpoint)
    {
        var method = endpoint.Metadata.OfType<MethodInfo>().FirstOrDefault();
        var services = endpoint.ApplicationServices.GetService<IServiceProviderIsService>();
        if (method is null || services is null)
        {
            return;
        }

        var validated = method.GetParameters()
            .Where(p => !p.ParameterType.IsByRef && !p.ParameterType.IsPointer && !p.ParameterType.ContainsGenericParameters)
            .Select(p => (p.Position, Validator: typeof(IValidator<>).MakeGenericType(p.ParameterType)))
            .Where(p => services.IsService(p.Validator))
            .ToArray();
        if (validated.Length == 0)
        {
            return;
        }

        endpoint.FilterFactories.Add((_, next) => async invocation =>
        {
            // The group's filters run before the endpoint's own, so the header check of WithIdempotencyKey would come
            // after the body's validators: a malformed key must be a 400 naming the header whatever the body holds.
            if (invocation.HttpContext.GetEndpoint()?.Metadata.GetMetadata<IdempotencyKeyMetadata>() is not null)
            {
                IdempotencyKey.Read(invocation.HttpContext);
            }

            foreach (var (position, validatorType) in validated)
            {
                if (invocation.Arguments[position] is not { } argument)
                {
                    continue;
                }

                var validator = (IValidator)invocation.HttpContext.RequestServices.GetRequiredService(validatorType);
                var result = await validator.ValidateAsync(new ValidationContext<object>(argument), invocation.HttpContext.RequestAborted);
                if (!result.IsValid)
                {
                    return TypedResults.ValidationProblem(result.ToDictionary());
                }
            }

            return await next(invocation);
        });
    }

    private static void DeclareProblemsAndSummary(EndpointBuilder endpoint)
    {
        var route = (endpoint as RouteEndpointBuilder)?.RoutePattern;
        var readsBody = endpoint.Metadata.OfType<IAcceptsMetadata>().Any();
        DeclareBodilessErrorsAsProblems(endpoint);

        // Every endpoint binds input: at the least its query string, where an unknown parameter is a 400.
        Produces(endpoint, StatusCodes.Status400BadRequest, typeof(HttpValidationProblemDetails));

        // A key reused with a different request is a 409, wherever a key is honoured.
        if (endpoint.Metadata.OfType<IdempotencyKeyMetadata>().Any())
        {
            Produces(endpoint, StatusCodes.Status409Conflict);
        }

        Produces(endpoint, StatusCodes.Status401Unauthorized);
        Produces(endpoint, StatusCodes.Status403Forbidden);
        if (route?.Parameters.Count > 0)
        {
            Produces(endpoint, StatusCodes.Status404NotFound);
        }

        if (readsBody)
        {
            // Kestrel's minimum body data rate: a body that arrives too slowly is a 408.
            Produces(endpoint, StatusCodes.Status408RequestTimeout);
            Produces(endpoint, StatusCodes.Status413PayloadTooLarge);
            Produces(endpoint, StatusCodes.Status415UnsupportedMediaType);
        }

        Produces(endpoint, StatusCodes.Status429TooManyRequests);
        Produces(endpoint, StatusCodes.Status500InternalServerError);
        Produces(endpoint, StatusCodes.Status503ServiceUnavailable);

        if (!endpoint.Metadata.OfType<IEndpointSummaryMetadata>().Any()
            && endpoint.Metadata.OfType<IEndpointNameMetadata>().FirstOrDefault() is { } name)
        {
            endpoint.Metadata.Add(new EndpointSummaryAttribute(SummaryOf(name.EndpointName)));
        }
    }

    /// <summary>Declares a ProblemDetails response, unless the endpoint already declares that status itself.</summary>
    private static void Produces(EndpointBuilder endpoint, int status, Type? type = null)
    {
        if (!endpoint.Metadata.OfType<IProducesResponseTypeMetadata>().Any(p => p.StatusCode == status))
        {
            endpoint.Metadata.Add(new ProducesResponseTypeMetadata(status, type ?? typeof(ProblemDetails), ProblemJson));
        }
    }

    /// <summary>
    /// An error a handler returns without a body (<c>TypedResults.NotFound()</c> in a <c>Results&lt;...&gt;</c>) is
    /// declared without content, but the status-code pages answer it with a ProblemDetails: declare that instead.
    /// </summary>
    private static void DeclareBodilessErrorsAsProblems(EndpointBuilder endpoint)
    {
        var bodiless = endpoint.Metadata.OfType<IProducesResponseTypeMetadata>()
            .Where(p => p.StatusCode >= 400 && (p.Type is null || p.Type == typeof(void)) && !p.ContentTypes.Any())
            .ToList();
        foreach (var declared in bodiless)
        {
            endpoint.Metadata.Remove(declared);
            Produces(endpoint, declared.StatusCode);
        }
    }

    /// <summary>"GetTrainingRun" as "Get training run".</summary>
    private static string SummaryOf(string endpointName)
    {
        var summary = new System.Text.StringBuilder(endpointName.Length + 8);
        foreach (var c in endpointName)
        {
            _ = char.IsUpper(c) && summary.Length > 0 ? summary.Append(' ').Append(char.ToLowerInvariant(c)) : summary.Append(c);
        }

        return summary.ToString();
    }
}
