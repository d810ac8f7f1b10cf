using Formanova.Modules.Shared.Errors;
using Microsoft.ML.OnnxRuntime;

namespace Formanova.Modules.Model.Onnx;

/// <summary>Creates ONNX Runtime sessions with the <c>Model:Onnx</c> settings.</summary>
internal static class OnnxSessions
{
    public const string CudaProvider = "CUDAExecutionProvider";

    private static readonly Lazy<OrtEnv> Environment = new(() =>
    {
        // ONNX Runtime warns on stderr about harmless things at load (unused initialisers, for one): errors only.
        // The environment is a process singleton; if other code made it first, its level is set instead.
        if (OrtEnv.IsCreated)
        {
            var existing = OrtEnv.Instance();
            existing.EnvLogLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR;
            return existing;
        }

        var options = new EnvironmentCreationOptions { logLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        try
        {
            return OrtEnv.CreateInstanceWithOptions(ref options);
        }
        catch (OnnxRuntimeException) when (OrtEnv.IsCreated)
        {
            return OrtEnv.Instance();
        }
    });

    /// <summary>The execution providers the native library in this build has.</summary>
    public static IReadOnlyList<string> AvailableProviders => Environment.Value.GetAvailableProviders();

    /// <summary>
    /// A session over <paramref name="model"/>: 422 naming <c>model</c> when ONNX Runtime cannot load the graph, 503
    /// naming the setting when the configured execution provider is not in this build.
    /// </summary>
    public static InferenceSession Create(byte[] model, ModelOptions.OnnxOptions options)
    {
        _ = Environment.Value;
        using var session = new SessionOptions
        {
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
            IntraOpNumThreads = options.IntraOpThreads,
            InterOpNumThreads = options.InterOpThreads,
            ExecutionMode = options.InterOpThreads > 1 ? ExecutionMode.ORT_PARALLEL : ExecutionMode.ORT_SEQUENTIAL,
            EnableCpuMemArena = options.MemoryArena,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        if (options.ExecutionProvider == OnnxExecutionProvider.Cuda)
        {
            if (!AvailableProviders.Contains(CudaProvider))
            {
                throw new ModuleException(
                    ErrorKind.Unavailable,
                    "Model:Onnx:ExecutionProvider is Cuda, but the ONNX Runtime of this build has no CUDA provider: build with "
                    + "the Microsoft.ML.OnnxRuntime.Gpu package (docs/configuration.md, \"ONNX\") or set it to Cpu.");
            }

            try
            {
                session.AppendExecutionProvider_CUDA(options.GpuDeviceId);
            }
            catch (OnnxRuntimeException ex)
            {
                throw new ModuleException(
                    ErrorKind.Unavailable,
                    $"Model:Onnx:ExecutionProvider is Cuda, but CUDA device {options.GpuDeviceId} (Model:Onnx:GpuDeviceId) "
                    + $"cannot be used: {ex.Message}",
                    inner: ex);
            }
        }

        try
        {
            return new InferenceSession(model, session);
        }
        catch (OnnxRuntimeException ex)
        {
            throw OnnxGraph.Unloadable($"ONNX Runtime cannot load the graph: {ex.Message}", ex);
        }
    }
}
