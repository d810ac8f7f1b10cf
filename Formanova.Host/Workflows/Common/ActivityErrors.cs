using Formanova.Modules.Shared.Database;
using Formanova.Modules.Shared.Errors;
using Temporalio.Exceptions;

namespace Formanova.Host.Workflows.Common;

/// <summary>
/// Turns the modules' expected failures into Temporal application failures: bad input and missing resources are
/// non-retryable (retrying cannot fix them), an unavailable dependency is retried with the step's policy, and an
/// unavailable database is told apart from the rest (<see cref="ErrorTypes.DatabaseUnavailable"/>).
/// </summary>
internal static class ActivityErrors
{
    public static async Task<T> GuardAsync<T>(Func<Task<T>> body)
    {
        try
        {
            return await body();
        }
        catch (ModuleException ex)
        {
            throw ToFailure(ex);
        }
        catch (Exception ex) when (DatabaseFailures.IsTransient(ex))
        {
            throw DatabaseUnavailable(ex);
        }
    }

    public static ApplicationFailureException ToFailure(ModuleException ex)
    {
        var errors = ex.Errors.ToDictionary(kv => kv.Key, kv => kv.Value);
        return ex.Kind switch
        {
            ErrorKind.Unavailable when DatabaseFailures.IsTransient(ex.InnerException) => DatabaseUnavailable(ex),
            ErrorKind.Invalid or ErrorKind.TooLarge or ErrorKind.UnsupportedMediaType => new ApplicationFailureException(
                ex.Message,
                ex,
                ErrorTypes.InvalidInput,
                nonRetryable: true,
                details: [errors]),
            ErrorKind.Unprocessable => new ApplicationFailureException(
                ex.Message,
                ex,
                ErrorTypes.Value,
                nonRetryable: true,
                details: [errors]),
            ErrorKind.NotFound => new ApplicationFailureException(
                ex.Message,
                ex,
                ErrorTypes.NotFound,
                nonRetryable: true,
                details: [errors]),
            ErrorKind.Conflict => new ApplicationFailureException(
                ex.Message,
                ex,
                ErrorTypes.Conflict,
                nonRetryable: true,
                details: [errors]),
            _ => new ApplicationFailureException(ex.Message, ex, ErrorTypes.Unavailable, nonRetryable: false),
        };
    }

    /// <summary>The driver's message may name the server, so the failure (kept in histories and results) names the type only.</summary>
    private static ApplicationFailureException DatabaseUnavailable(Exception ex) =>
        new($"The database is unavailable ({ex.GetBaseException().GetType().Name}); the step is retried.",
            ErrorTypes.DatabaseUnavailable, nonRetryable: false);

    public static ApplicationFailureException Invalid(string message, Dictionary<string, string[]> errors) =>
        new(message, ErrorTypes.InvalidInput, nonRetryable: true, details: [errors]);

    /// <summary>The application failure at the bottom of an activity/child failure chain, if any.</summary>
    public static ApplicationFailureException? Application(Exception ex)
    {
        for (Exception? current = ex; current is not null; current = current.InnerException)
        {
            if (current is ApplicationFailureException app)
            {
                return app;
            }
        }

        return null;
    }

    /// <summary>The deepest message in the chain: "Activity task failed" says less than its cause.</summary>
    public static string Describe(Exception ex)
    {
        var app = Application(ex);
        if (app is not null)
        {
            return app.Message;
        }

        var current = ex;
        while (current.InnerException is not null)
        {
            current = current.InnerException;
        }

        return current is TimeoutFailureException timeout ? $"timed out ({timeout.TimeoutType})" : current.Message;
    }

    public static string TypeOf(Exception ex)
    {
        if (Application(ex) is { ErrorType: { } type })
        {
            return type;
        }

        for (Exception? current = ex; current is not null; current = current.InnerException)
        {
            if (current is TimeoutFailureException)
            {
                return "Timeout";
            }
        }

        return ex.GetType().Name;
    }
}
