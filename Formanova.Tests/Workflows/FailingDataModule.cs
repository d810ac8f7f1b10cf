using System.Reflection;
using System.Runtime.ExceptionServices;
using Formanova.Modules.Data;
using Formanova.Modules.Shared.Errors;

namespace Formanova.Tests.Workflows;

/// <summary>
/// An <see cref="IDataModule"/> whose RecordResultAsync fails (as unavailable, so the activity is retried) when the
/// predicate says so; every other call passes through.
/// </summary>
#pragma warning disable CA1852 // DispatchProxy generates the derived proxy type.
internal class FailingDataModule : DispatchProxy
#pragma warning restore CA1852
{
    private IDataModule _inner = null!;
    private Func<RecordResultRequest, bool> _fail = null!;

    public static IDataModule Wrap(IDataModule inner, Func<RecordResultRequest, bool> fail)
    {
        var proxy = Create<IDataModule, FailingDataModule>();
        var self = (FailingDataModule)(object)proxy;
        self._inner = inner;
        self._fail = fail;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        if (targetMethod!.Name == nameof(IDataModule.RecordResultAsync) && _fail((RecordResultRequest)args![0]!))
        {
            return Task.FromException<ProcessingResult>(
                new ModuleException(ErrorKind.Unavailable, "Injected: the result store is unavailable."));
        }

        try
        {
            return targetMethod.Invoke(_inner, args);
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            ExceptionDispatchInfo.Throw(ex.InnerException);
            throw;
        }
    }
}
