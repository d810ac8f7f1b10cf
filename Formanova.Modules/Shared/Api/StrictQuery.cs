using System.Reflection;
using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Primitives;

namespace Formanova.Modules.Shared.Api;

/// <summary>The query parameters an endpoint binds, compared case-insensitively; any other one is refused.</summary>
public sealed class AcceptedQueryMetadata(IEnumerable<string> names)
{
    public IReadOnlySet<string> Names { get; } = new SortedSet<string>(names, StringComparer.OrdinalIgnoreCase);
}

/// <summary>
/// Refuses a query parameter the endpoint does not bind, as unknown body fields are refused: a paging loop that sends
/// <c>after=</c> where the operation reads <c>cursor=</c> would otherwise get the first page forever. The accepted
/// names are read from the handler's parameters the way minimal APIs bind them, which is also how the OpenAPI
/// document lists them.
/// </summary>
internal static class StrictQuery
{
    private static readonly HashSet<Type> SpecialTypes =
    [
        typeof(HttpContext), typeof(HttpRequest), typeof(HttpResponse), typeof(CancellationToken), typeof(ClaimsPrincipal),
        typeof(IFormCollection), typeof(IFormFileCollection), typeof(IFormFile), typeof(Stream), typeof(System.IO.Pipelines.PipeReader),
    ];

    public static void Add(EndpointBuilder endpoint)
    {
        if (endpoint.Metadata.OfType<MethodInfo>().FirstOrDefault() is not { } method)
        {
            return;
        }

        var route = (endpoint as RouteEndpointBuilder)?.RoutePattern;
        var accepted = new AcceptedQueryMetadata(QueryNames(method, route));
        endpoint.Metadata.Add(accepted);
        endpoint.FilterFactories.Add((_, next) => invocation =>
        {
            var unknown = invocation.HttpContext.Request.Query.Keys
                .Where(key => key.Length > 0 && !accepted.Names.Contains(key))
                .ToArray();
            if (unknown.Length == 0)
            {
                return next(invocation);
            }

            var accepts = accepted.Names.Count == 0 ? "none" : string.Join(", ", accepted.Names);
            var errors = unknown.ToDictionary(
                key => key,
                key => new[] { $"'{key}' is not a query parameter of this operation; it accepts {accepts}." });
            return ValueTask.FromResult<object?>(TypedResults.ValidationProblem(errors, title: "Unknown query parameter"));
        });
    }

    /// <summary>The names minimal APIs bind from the query string for this handler.</summary>
    public static IEnumerable<string> QueryNames(MethodInfo method, RoutePattern? route)
    {
        var routeNames = new HashSet<string>(route?.Parameters.Select(p => p.Name) ?? [], StringComparer.OrdinalIgnoreCase);
        return method.GetParameters()
            .Select(p => new Bound(p.Name ?? "", p.ParameterType, p.GetCustomAttributes(inherit: true)))
            .SelectMany(p => QueryNames(p, routeNames));
    }

    private static IEnumerable<string> QueryNames(Bound bound, HashSet<string> routeNames)
    {
        var attributes = bound.Attributes;
        if (attributes.OfType<IFromQueryMetadata>().FirstOrDefault() is { } fromQuery)
        {
            return [fromQuery.Name ?? bound.Name];
        }

        if (attributes.OfType<AsParametersAttribute>().Any())
        {
            return Members(bound.Type).SelectMany(m => QueryNames(m, routeNames));
        }

        var boundElsewhere = attributes.Any(a => a is IFromRouteMetadata or IFromHeaderMetadata or IFromBodyMetadata
            or IFromFormMetadata or IFromServiceMetadata or FromKeyedServicesAttribute);
        return boundElsewhere || routeNames.Contains(bound.Name) || !IsSimple(bound.Type) ? [] : [bound.Name];
    }

    /// <summary>The members [AsParameters] binds: the constructor's parameters, then the settable properties left.</summary>
    /// <remarks>A constructor parameter carries its property's attributes too, as minimal APIs read them.</remarks>
    private static IEnumerable<Bound> Members(Type type)
    {
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance);
        var constructor = type.GetConstructors().OrderByDescending(c => c.GetParameters().Length).FirstOrDefault();
        var fromConstructor = (constructor?.GetParameters() ?? []).Select(p => new Bound(
                p.Name ?? "",
                p.ParameterType,
                [
                    .. p.GetCustomAttributes(inherit: true),
                    .. properties.FirstOrDefault(m => string.Equals(m.Name, p.Name, StringComparison.OrdinalIgnoreCase))
                        ?.GetCustomAttributes(inherit: true) ?? [],
                ]))
            .ToList();
        var settable = properties
            .Where(p => p.CanWrite && !fromConstructor.Any(c => string.Equals(c.Name, p.Name, StringComparison.OrdinalIgnoreCase)))
            .Select(p => new Bound(p.Name, p.PropertyType, p.GetCustomAttributes(inherit: true)));
        return fromConstructor.Concat(settable);
    }

    /// <summary>A type minimal APIs parse from a string (or an array of such): anything else is a service or a body.</summary>
    private static bool IsSimple(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(StringValues))
        {
            return true;
        }

        if (type.IsArray)
        {
            type = type.GetElementType()!;
            type = Nullable.GetUnderlyingType(type) ?? type;
        }

        if (SpecialTypes.Contains(type) || HasStatic(type, "BindAsync"))
        {
            return false;
        }

        return type == typeof(string) || type.IsEnum || type.IsPrimitive || HasStatic(type, "TryParse");
    }

    private static bool HasStatic(Type type, string name) =>
        type.GetMethods(BindingFlags.Public | BindingFlags.Static).Any(m => m.Name == name);

    private sealed record Bound(string Name, Type Type, IReadOnlyList<object> Attributes);
}
