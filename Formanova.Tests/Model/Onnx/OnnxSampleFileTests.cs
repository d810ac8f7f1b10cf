using Formanova.Tests.Support;

namespace Formanova.Tests.Model.Onnx;

/// <summary>
/// samples/onnx/churn-linear.onnx, the file docs/model.md's ONNX walkthrough uploads, is exactly what
/// <see cref="HandBuiltModels.Binary"/> writes: its origin is this code, not a binary of unknown source.
/// </summary>
public sealed class OnnxSampleFileTests
{
    /// <summary>Where the sample lives, from the repository root.</summary>
    public const string SamplePath = "samples/onnx/churn-linear.onnx";

    [Test]
    public void SampleFile_IsTheGraphTheTestBuilderWrites()
    {
        var path = Path.Combine(RepositoryFiles.Root(), SamplePath);
        var built = Sample();
        if (Environment.GetEnvironmentVariable("FORMANOVA_WRITE_SAMPLES") == "1")
        {
            File.WriteAllBytes(path, built);
        }

        Assert.That(File.Exists(path), Is.True, $"{SamplePath} is missing: write it with FORMANOVA_WRITE_SAMPLES=1");
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(built), $"{SamplePath} is stale: write it again with FORMANOVA_WRITE_SAMPLES=1");
    }

    /// <summary>Churn as a logistic regression on two columns of the demo model's inputs.</summary>
    public static byte[] Sample() => HandBuiltModels.Binary("tenure_months", "monthly_charges");
}
