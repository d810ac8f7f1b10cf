using System.Net;
using Formanova.Modules.Model.Onnx;
using Formanova.Tests.Support;
using static Formanova.Modules.Model.Onnx.OnnxSessions;
using static Formanova.Tests.Model.Onnx.OnnxUploads;

namespace Formanova.Tests.Model.Onnx;

/// <summary>
/// <c>Model:Onnx:ExecutionProvider=Cuda</c>: on a machine with a GPU and the CUDA build of ONNX Runtime the graph runs
/// there and gives the CPU's answers; on a CPU-only build the setting is refused by name, and nothing is registered.
/// </summary>
[Category("Integration")]
public sealed class OnnxGpuTests
{
    private static readonly KeyValuePair<string, string?>[] Cuda =
    [
        new("Model:Bootstrap:Enabled", "false"),
        new("Model:Onnx:ExecutionProvider", "Cuda"),
    ];

    // Through the module's environment: ONNX Runtime has one per process, and whoever creates it first sets its options.
    private static bool HasCudaProvider => OnnxSessions.AvailableProviders.Contains(CudaProvider);

    [Test]
    public async Task Predict_WithTheCudaExecutionProvider_RunsTheGraphOnTheGpu()
    {
        if (!File.Exists("/dev/nvidia0"))
        {
            Assert.Ignore("No GPU: /dev/nvidia0 does not exist.");
        }

        if (!HasCudaProvider)
        {
            Assert.Ignore(
                $"The ONNX Runtime of this build has no {CudaProvider}: run the tests built with -p:OnnxRuntimeGpu=true "
                + "(docs/configuration.md, \"ONNX\").");
        }

        using var factory = new FormanovaFactory(Cuda);
        using var client = factory.CreateClient();
        await RegisterAsync(client, "onnx-gpu", HandBuiltModels.Binary(), HandBuiltModels.BinaryMetadata("1.0.0"));

        var prediction = await PredictAsync(client, "onnx-gpu", new { age = 40.0, income = 30.0 }, "1.0.0");

        Assert.That((double?)prediction["probabilities"]!["true"], Is.EqualTo(HandBuiltModels.BinaryProbability(40, 30)).Within(1e-5));
    }

    [Test]
    public async Task Upload_WithTheCudaExecutionProviderOnACpuOnlyBuild_Returns503NamingTheSettingAndRegistersNothing()
    {
        if (HasCudaProvider)
        {
            Assert.Ignore($"This build's ONNX Runtime has the {CudaProvider}: it is not a CPU-only build.");
        }

        using var factory = new FormanovaFactory(Cuda);
        using var client = factory.CreateClient();

        var response = await UploadAsync(client, "onnx-gpu", HandBuiltModels.Binary(), HandBuiltModels.BinaryMetadata("1.0.0"));
        var problem = await response.Content.ReadAsStringAsync();
        var model = await client.GetAsync("/api/v1/models/onnx-gpu");

        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable), problem);
            Assert.That(problem, Does.Contain("Model:Onnx:ExecutionProvider").And.Contain("Cpu"));
            Assert.That(model.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), "nothing was registered");
        });
    }
}
