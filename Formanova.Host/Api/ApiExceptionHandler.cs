using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;
using Formanova.Modules.Shared.Database;
using Formanova.Modules.Shared.Errors;
using Formanova.Modules.Shared.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace Formanova.Host.Api;

/// <summary>
/// Maps every exception that escapes an endpoint to an RFC 9457 ProblemDetails. Expected failures keep their
/// message; a transient database failure is a 503 the client may retry; anything else becomes a 500 that carries
/// only the trace id, never the exception text.
/// </summary>
internal sealed partial class ApiExceptionHandler(
    IProblemDetailsService problemDetails,
    ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is OperationCanceledException && httpContext.RequestAborted.IsCancellationRequested)
        {
            // The client went away; there is nobody to answer.
            return true;
        }

        var problem = exception switch
        {
            ModuleException module => FromModule(module),
            BadHttpRequestException { InnerException: JsonException json } => MalformedJson(httpContext, json),
            BadHttpRequestException { StatusCode: StatusCodes.Status400BadRequest } bad => BindingFailure(bad),
            BadHttpRequestException bad => new ProblemDetails
            {
                Status = bad.StatusCode,
                Title = TitleFor(bad.StatusCode),
                Detail = bad.Message
            },
            // Minimal APIs read a JSON body in the Content-Type's charset and throw this for a name no encoding has.
            InvalidOperationException when UnknownCharset(httpContext.Request) is { } charset => new ProblemDetails
            {
                Status = StatusCodes.Status415UnsupportedMediaType,
                Title = TitleFor(StatusCodes.Status415UnsupportedMediaType),
                Detail = $"The Content-Type charset '{charset}' is not a known text encoding; send the body as UTF-8.",
            },
            FluentValidation.ValidationException validation => new HttpValidationProblemDetails(
                validation.Errors.GroupBy(e => e.PropertyName).ToDictionary(g => g.Key, g => g.Select(e => e.ErrorMessage).ToArray())),
            _ => null,
        };

        if (problem is null && DatabaseFailures.IsTransient(exception))
        {
            // The driver's message is logged by type only: it may name the server.
            logger.LogWarning(
                "Request {Method} {Path} failed with 503: the database is unavailable ({ExceptionType}: {Cause})",
                httpContext.Request.Method, httpContext.Request.Path, exception.GetType().Name, exception.GetBaseException().GetType()
                    .Name);
            problem = DatabaseUnavailable();
        }
        else if (problem is null)
        {
            logger.LogError(exception, "Unhandled exception for {Method} {Path}", httpContext.Request.Method, httpContext.Request.Path);
            problem = new ProblemDetails
            {
                Status = StatusCodes.Status500InternalServerError,
                Title = "An unexpected error occurred.",
                Detail = "The error was logged; quote the trace id when reporting it.",
            };
        }
        else
        {
            // The request line already has the status; the reason is in the response, and here only for debugging.
            logger.LogDebug(
                "Request {Method} {Path} failed with {Status}: {Detail}",
                httpContext.Request.Method,
                httpContext.Request.Path,
                problem.Status,
                problem.Detail);
        }

        httpContext.Response.StatusCode = problem.Status!.Value;
        return await problemDetails.TryWriteAsync(
            new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem, Exception = exception });
    }

    /// <summary>The database is down, restarting or out of connections: a 503 the client can retry, not a 500.</summary>
    private static ProblemDetails DatabaseUnavailable() => new()
    {
        Status = StatusCodes.Status503ServiceUnavailable,
        Title = TitleFor(StatusCodes.Status503ServiceUnavailable),
        Detail = "The database is unavailable at the moment. "
            + "Retry later, with the same Idempotency-Key or importId where the request has one.",
    };

    /// <summary>The HTTP status of a module's refusal (the dashboard's pages answer with it too).</summary>
    internal static int StatusOf(ErrorKind kind) => kind switch
    {
        ErrorKind.NotFound => StatusCodes.Status404NotFound,
        ErrorKind.Conflict => StatusCodes.Status409Conflict,
        ErrorKind.Unprocessable => StatusCodes.Status422UnprocessableEntity,
        ErrorKind.TooLarge => StatusCodes.Status413PayloadTooLarge,
        ErrorKind.UnsupportedMediaType => StatusCodes.Status415UnsupportedMediaType,
        ErrorKind.Unavailable => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status400BadRequest,
    };

    private static ProblemDetails FromModule(ModuleException exception)
    {
        var status = StatusOf(exception.Kind);
        ProblemDetails problem = exception.Errors.Count > 0
            ? new HttpValidationProblemDetails(exception.Errors.ToDictionary(kv => kv.Key, kv => kv.Value))
            : new ProblemDetails();
        problem.Status = status;
        problem.Title = TitleFor(status);
        problem.Detail = exception.Message;
        foreach (var (name, value) in exception.Extensions)
        {
            problem.Extensions[name] = value;
        }

        return problem;
    }

    /// <summary>
    /// A parameter minimal APIs could not bind (<c>Failed to bind parameter "long? cursor" from "x"</c>) or a body that
    /// was required and absent: a validation problem keyed by the parameter, like every other 400 (the document
    /// promises <c>errors</c>). A missing body is keyed by the empty path, as the validators key the root.
    /// </summary>
    private static HttpValidationProblemDetails BindingFailure(BadHttpRequestException bad)
    {
        var message = bad.Message;
        var (field, reason) = BindingMessage().Match(message) is { Success: true } binding
            ? (binding.Groups["name"].Value, $"'{binding.Groups["value"].Value}' is not a valid value for this parameter.")
            : RequiredMessage().Match(message) is { Success: true } required
                ? required.Groups["body"].Success
                    ? (string.Empty, "A request body is required.")
                    : (required.Groups["name"].Value, "This parameter is required.")
                : (string.Empty, message);
        return new HttpValidationProblemDetails(new Dictionary<string, string[]> { [field] = [reason] })
        {
            Status = StatusCodes.Status400BadRequest,
            Title = TitleFor(StatusCodes.Status400BadRequest),
            Detail = message,
        };
    }

    [GeneratedRegex("""^Failed to bind parameter "(?:[^"]* )?(?<name>[^" ]+)" from "(?<value>.*)"\.$""")]
    private static partial Regex BindingMessage();

    [GeneratedRegex(
        """^(?:(?<body>Implicit body inferred for parameter "[^"]+" but no body was provided)"""
        + """|Required parameter "(?:[^"]* )?(?<name>[^" ]+)" was not provided)""")]
    private static partial Regex RequiredMessage();

    private static HttpValidationProblemDetails MalformedJson(HttpContext httpContext, JsonException json)
    {
        var problem = JsonProblem.Of(json, BodyContract(httpContext));
        var path = problem.Path;
        switch (problem.Kind)
        {
            case JsonProblemKind.MissingFields:
                // Keyed like the validators' errors: the field's path without the '$'.
                var prefix = path == "$" ? "" : path[(path[1] == '.' ? 2 : 1)..] + ".";
                return new HttpValidationProblemDetails(problem.Fields.ToDictionary(f => prefix + f, f => new[] { $"'{f}' is required." }))
                {
                    Status = StatusCodes.Status400BadRequest,
                    Title = "Missing required fields",
                    Detail = path == "$"
                        ? $"The request body lacks required fields: {string.Join(", ", problem.Fields)}."
                        : $"The object at '{path}' lacks required fields: {string.Join(", ", problem.Fields)}.",
                };
            case JsonProblemKind.InvalidValue:
                return new HttpValidationProblemDetails(new Dictionary<string, string[]> { [path] = [problem.Reason] })
                {
                    Status = StatusCodes.Status400BadRequest,
                    Title = "Invalid value",
                    Detail = $"The value at '{path}' cannot be accepted. {problem.Reason}",
                };
            case JsonProblemKind.UnknownField:
                // The client needs the field and where it is.
                var message = $"'{problem.Fields[0]}' (at '{path}') is not a field this endpoint takes; "
                    + "check its spelling against /openapi/v1.json.";
                return new HttpValidationProblemDetails(new Dictionary<string, string[]> { [path] = [message] })
                {
                    Status = StatusCodes.Status400BadRequest,
                    Title = "Unknown field",
                    Detail = message,
                };
            default:
                var reason = $"The request body is not valid JSON, or a value has the wrong type, at '{path}' "
                    + $"(line {json.LineNumber + 1}, byte {json.BytePositionInLine}).";
                return new HttpValidationProblemDetails(new Dictionary<string, string[]> { [path] = [reason] })
                {
                    Status = StatusCodes.Status400BadRequest,
                    Title = "Malformed JSON",
                    Detail = reason,
                };
        }
    }

    /// <summary>The serialization contract of the endpoint's JSON body, which the exception's path is followed through.</summary>
    /// <remarks>The exception handler middleware clears the request's endpoint before it runs; its feature keeps it.</remarks>
    private static JsonTypeInfo? BodyContract(HttpContext httpContext)
    {
        var endpoint = httpContext.Features.Get<IExceptionHandlerFeature>()?.Endpoint ?? httpContext.GetEndpoint();
        if (endpoint?.Metadata.GetMetadata<IAcceptsMetadata>()?.RequestType is not { } type)
        {
            return null;
        }

        var json = httpContext.RequestServices.GetRequiredService<IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value;
        return json.SerializerOptions.GetTypeInfo(type);
    }

    /// <summary>The request's charset parameter when no encoding has that name (shortened), else null.</summary>
    private static string? UnknownCharset(HttpRequest request)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type) || StringSegment.IsNullOrEmpty(type.Charset))
        {
            return null;
        }

        var charset = type.Charset.ToString();
        try
        {
            Encoding.GetEncoding(charset);
            return null;
        }
        catch (ArgumentException)
        {
            return charset.Length > 40 ? charset[..40] + "…" : charset;
        }
    }

    private static string TitleFor(int status) => status switch
    {
        400 => "Bad Request",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        503 => "Service Unavailable",
        _ => "Error",
    };
}
