using System.ComponentModel.DataAnnotations;
using Formanova.Host.Temporal;

namespace Formanova.Tests.Host.Temporal;

public sealed class TemporalOptionsTests
{
    [TestCase("auto", "", false)]
    [TestCase("auto", "temporal.example.com:7233", true)]
    [TestCase("gzip", "", true)]
    [TestCase("none", "temporal.example.com:7233", false)]
    public void UsesGzip_WhenCompressionAndAddressGiven_CompressesOnlyOffLoopbackOrWhenForced(
        string compression,
        string address,
        bool expected)
    {
        var options = new TemporalOptions { GrpcCompression = compression, Address = address };

        Assert.That(options.UsesGzip, Is.EqualTo(expected));
    }

    [Test]
    public void Validate_WhenCompressionIsUnknown_NamesTheSetting()
    {
        var options = new TemporalOptions { GrpcCompression = "zstd" };
        var results = new List<ValidationResult>();

        var valid = Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);

        Assert.That(valid, Is.False);
        Assert.That(results.Single().ErrorMessage, Does.Contain("Temporal:GrpcCompression"));
    }

    [TestCase(-1)]
    [TestCase(3601)]
    public void Validate_WhenTheGracefulShutdownIsOutOfRange_NamesTheSetting(int seconds)
    {
        var options = new TemporalOptions { GracefulShutdownSeconds = seconds };
        var results = new List<ValidationResult>();

        var valid = Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);

        Assert.That(valid, Is.False);
        Assert.That(results.Single().MemberNames, Is.EqualTo(new[] { nameof(TemporalOptions.GracefulShutdownSeconds) }));
    }
}
