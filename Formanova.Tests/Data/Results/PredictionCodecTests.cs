using Formanova.Modules.Data;
using Formanova.Modules.Data.Results;

namespace Formanova.Tests.Data.Results;

public sealed class PredictionCodecTests
{
    [Test]
    public void Decode_WhenEncoded_ReturnsTheSamePredictionsInTheSameOrder()
    {
        StoredPrediction[] predictions =
        [
            new(long.MaxValue, "churn ✓", null, -0.0),
            new(1, null, 2.5, null),
            new(long.MaxValue - 1, "stay", double.NaN, double.PositiveInfinity),
            new(0, "churn ✓", null, null),
            new(-7, "", 1e-300, 0.1 + 0.2),
        ];

        var decoded = PredictionCodec.Decode(PredictionCodec.Encode(predictions));

        Assert.That(decoded, Is.EqualTo(predictions));
        Assert.That(double.IsNegative(decoded[0].Score!.Value), Is.True, "-0.0 keeps its sign");
    }

    [Test]
    public void Decode_WhenTheChunkIsEmpty_ReturnsNoPrediction()
    {
        Assert.That(PredictionCodec.Decode(PredictionCodec.Encode([])), Is.Empty);
    }

    [Test]
    public void Encode_WhenRowsAreConsecutiveBinaryPredictions_TakesAboutElevenBytesPerRow()
    {
        var predictions = Enumerable.Range(1_000_000, 10_000)
            .Select(i => new StoredPrediction(i, i % 3 == 0 ? "true" : "false", null, i / 7.0))
            .ToList();

        var payload = PredictionCodec.Encode(predictions);

        Assert.That(payload, Has.Length.LessThanOrEqualTo((11 * predictions.Count) + 32));
    }

    [Test]
    public void Decode_WhenTheFormatIsUnknown_Throws()
    {
        var payload = PredictionCodec.Encode([new(1, "x", null, 1)]);
        payload[0] = 9;

        Assert.That(() => PredictionCodec.Decode(payload), Throws.TypeOf<InvalidDataException>().With.Message.Contains("format 9"));
    }
}
