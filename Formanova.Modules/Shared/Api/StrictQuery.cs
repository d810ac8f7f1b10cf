using System.Globalization;
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
        var parameters = QueryParameters(method, route).ToList();
        var accepted = new AcceptedQueryMetadata(parameters.Select(p => p.Name));
        var parsed = parameters.Select(Parsed.For).OfType<Parsed>().ToArray();
        endpoint.Metadata.Add(accepted);
        endpoint.FilterFactories.Add((_, next) => invocation =>
        {
            var request = invocation.HttpContext.Request;
            var unknown = request.Query.Keys
                .Where(key => key.Length > 0 && !accepted.Names.Contains(key))
                .ToArray();
            if (unknown.Length == 0)
            {
                // The compile-time binder (the request delegate generator) answers an optional query value it cannot
                // parse with a bare 400, skipping the handler, where the run-time binder throws the exception the API's
                // handler turns into a problem that names the parameter. The filters still run: this throws it.
                if (invocation.HttpContext.Response.StatusCode == StatusCodes.Status400BadRequest)
                {
                    Parsed.ThrowIfAnyFails(request.Query, parsed);
                }

                return next(invocation);
            }

            var accepts = accepted.Names.Count == 0 ? "none" : string.Join(", ", accepted.Names);
            var errors = unknown.ToDictionary(
                key => key,
                key => new[] { $"'{key}' is not a query parameter of this operation; it accepts {accepts}." });
            return ValueTask.FromResult<object?>(TypedResults.ValidationProblem(errors, title: "Unknown query parameter"));
        });
    }

    /// <summary>The parameters minimal APIs bind from the query string for this handler.</summary>
    private static IEnumerable<Bound> QueryParameters(MethodInfo method, RoutePattern? route)
    {
        var routeNames = new HashSet<string>(route?.Parameters.Select(p => p.Name) ?? [], StringComparer.OrdinalIgnoreCase);
        return method.GetParameters()
            .Select(p => new Bound(p.Name ?? "", p.ParameterType, p.GetCustomAttributes(inherit: true)))
            .SelectMany(p => QueryParameters(p, routeNames));
    }

    private static IEnumerable<Bound> QueryParameters(Bound bound, HashSet<string> routeNames)
    {
        var attributes = bound.Attributes;
        if (attributes.OfType<IFromQueryMetadata>().FirstOrDefault() is { } fromQuery)
        {
            return [bound with { Name = fromQuery.Name ?? bound.Name }];
        }

        if (attributes.OfType<AsParametersAttribute>().Any())
        {
            return Members(bound.Type).SelectMany(m => QueryParameters(m, routeNames));
        }

        var boundElsewhere = attributes.Any(a => a is IFromRouteMetadata or IFromHeaderMetadata or IFromBodyMetadata
            or IFromFormMetadata or IFromServiceMetadata or FromKeyedServicesAttribute);
        return boundElsewhere || routeNames.Contains(bound.Name) || !IsSimple(bound.Type) ? [] : [bound];
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

    /// <summary>A query parameter parsed from one value (a number, a date, an enum), and how to tell a value it refuses.</summary>
    private sealed record Parsed(string Name, string TypeName, Func<string, bool> Parses)
    {
        private static readonly Dictionary<Type, string> Keywords = new()
        {
            [typeof(bool)] = "bool",
            [typeof(byte)] = "byte",
            [typeof(short)] = "short",
            [typeof(int)] = "int",
            [typeof(long)] = "long",
            [typeof(float)] = "float",
            [typeof(double)] = "double",
            [typeof(decimal)] = "decimal",
        };

        public static Parsed? For(Bound bound)
        {
            var type = Nullable.GetUnderlyingType(bound.Type) ?? bound.Type;
            var name = (Keywords.GetValueOrDefault(type) ?? type.Name) + (type == bound.Type ? "" : "?");
            if (type.IsEnum)
            {
                return new Parsed(bound.Name, name, value => Enum.TryParse(type, value, ignoreCase: true, out _));
            }

            var parsable = type.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IParsable<>));
            return parsable && type != typeof(string)
                ? new Parsed(bound.Name, name, typeof(Parsed).GetMethod(nameof(TryParse), BindingFlags.NonPublic | BindingFlags.Static)!
                    .MakeGenericMethod(type).CreateDelegate<Func<string, bool>>())
                : null;
        }

        /// <summary>Throws what the run-time binder throws for the first value that does not parse.</summary>
        public static void ThrowIfAnyFails(IQueryCollection query, Parsed[] parameters)
        {
            foreach (var parameter in parameters)
            {
                var value = query[parameter.Name].ToString();
                if (value.Length > 0 && !parameter.Parses(value))
                {
                    throw new BadHttpRequestException(
                        $"Failed to bind parameter \"{parameter.TypeName} {parameter.Name}\" from \"{value}\".");
                }
            }
        }

        private static bool TryParse<T>(string value) where T : IParsable<T> => T.TryParse(value, CultureInfo.InvariantCulture, out _);
    }
}
