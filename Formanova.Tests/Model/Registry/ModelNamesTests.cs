using Formanova.Modules.Model;
using Formanova.Modules.Shared.Errors;

namespace Formanova.Tests.Model.Registry;

public sealed class ModelNamesTests
{
    [TestCase("Demo-Churn", "demo-churn")]
    [TestCase("  churn_v2 ", "churn_v2")]
    public void Name_WhenValid_IsNormalised(string input, string expected) => Assert.That(ModelNames.Name(input), Is.EqualTo(expected));

    [TestCase("..")]
    [TestCase("../etc")]
    [TestCase("a/b")]
    [TestCase("a\\b")]
    [TestCase("churn.v1")]
    [TestCase("")]
    [TestCase("-churn")]
    [TestCase("chürn")]
    [TestCase("ｃｈｕｒｎ")]
    public void Name_WhenUnsafe_ThrowsInvalid(string input) =>
        Assert.That(Assert.Throws<ModuleException>(() => ModelNames.Name(input))!.Kind, Is.EqualTo(ErrorKind.Invalid));

    [Test]
    public void Name_WhenLongerThanMaxLength_ThrowsInvalidSayingTheLimit()
    {
        Assert.That(ModelNames.Name(new string('a', 64)), Has.Length.EqualTo(64));

        var error = Assert.Throws<ModuleException>(() => ModelNames.Name(new string('a', 65)))!;

        Assert.That(error.Errors["name"], Has.Some.Contains("1-64 characters"));
    }

    [TestCase("1.2.3", "1.2.3")]
    [TestCase("v1.2.3", "1.2.3")]
    [TestCase("1.0.0-RC.1", "1.0.0-rc.1")]
    public void Version_WhenSemantic_IsNormalised(string input, string expected)
        => Assert.That(ModelNames.Version(input), Is.EqualTo(expected));

    [TestCase("1.2")]
    [TestCase("01.2.3")]
    [TestCase("1.2.3+build")]
    [TestCase("1.2.3/../../x")]
    [TestCase("latest")]
    public void Version_WhenNotSemantic_ThrowsInvalid(string input) =>
        Assert.That(Assert.Throws<ModuleException>(() => ModelNames.Version(input))!.Kind, Is.EqualTo(ErrorKind.Invalid));

    [Test]
    public void VersionOrder_SortsBySemanticVersion() =>
        Assert.That(
            new[] { "1.10.0", "1.2.0", "1.2.0-rc.1", "0.9.9" }.Order(ModelNames.VersionOrder),
            Is.EqualTo(new[] { "0.9.9", "1.2.0-rc.1", "1.2.0", "1.10.0" }));
}
