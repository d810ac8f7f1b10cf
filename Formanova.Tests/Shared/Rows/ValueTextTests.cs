using Formanova.Modules.Shared.Rows;

namespace Formanova.Tests.Shared.Rows;

public sealed class ValueTextTests
{
    [TestCase("2024-02-29", "2024-02-29T00:00:00.0000000+00:00")]
    [TestCase("2024-02-29T23:59:58Z", "2024-02-29T23:59:58.0000000+00:00")]
    [TestCase("2024-02-29 23:59:58", "2024-02-29T23:59:58.0000000+00:00")]
    [TestCase("2024-03-01T01:30:00.125+02:00", "2024-02-29T23:30:00.1250000+00:00")]
    [TestCase("2024-03-01T01:30:00.1234567-05:30", "2024-03-01T07:00:00.1234567+00:00")]
    [TestCase("March 1, 2024", "2024-03-01T00:00:00.0000000+00:00")]
    [TestCase("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.0000000+00:00")]
    public void TryParseDate_WhenIsoOrGeneralForm_ReturnsTheUtcInstant(string text, string expected)
    {
        Assert.Multiple(() =>
        {
            Assert.That(ValueText.TryParseDate(text, out var value), Is.True);
            Assert.That(value.ToString("O"), Is.EqualTo(expected));
        });
    }

    [TestCase("2023-02-29")]
    [TestCase("2024-13-01")]
    [TestCase("2024-01-01T24:00:00Z")]
    [TestCase("2024-01-01T10:00:00+25:00")]
    [TestCase("not a date")]
    [TestCase("12")]
    public void TryParseDate_WhenNotADate_ReturnsFalse(string text) => Assert.That(ValueText.TryParseDate(text, out _), Is.False);

    [TestCase("TRUE", true)]
    [TestCase(" yes ", true)]
    [TestCase("1", true)]
    [TestCase("f", false)]
    [TestCase("No", false)]
    public void TryParseBoolean_WhenAKnownWord_ReturnsItsValue(string text, bool expected)
    {
        Assert.Multiple(() =>
        {
            Assert.That(ValueText.TryParseBoolean(text, out var value), Is.True);
            Assert.That(value, Is.EqualTo(expected));
        });
    }

    [TestCase("maybe")]
    [TestCase("2")]
    public void TryParseBoolean_WhenUnknown_ReturnsFalse(string text) => Assert.That(ValueText.TryParseBoolean(text, out _), Is.False);
}
