using Formanova.Host.Workflows.Experiments.Statistics;

namespace Formanova.Tests.Workflows.Experiments.Statistics;

public sealed class MsprtTests
{
    [Test]
    public void Look_WhenComputedByHand_MatchesTheClosedForm()
    {
        const double theta = 0.05, v = 0.0004, tau2 = 0.001, alpha = 0.05;
        var expectedLambda = Math.Sqrt(v / (v + tau2)) * Math.Exp(tau2 * theta * theta / (2 * v * (v + tau2)));
        var half = Math.Sqrt(v * (v + tau2) / tau2 * (Math.Log((v + tau2) / v) + (2 * Math.Log(1 / alpha))));

        var look = Msprt.Look(theta, v, tau2, alpha);

        Assert.That(look.Lambda, Is.EqualTo(expectedLambda).Within(1e-9).Percent);
        Assert.That(look.PValue, Is.EqualTo(Math.Min(1, 1 / expectedLambda)).Within(1e-9).Percent);
        Assert.That(look.Lower, Is.EqualTo(theta - half).Within(1e-12));
        Assert.That(look.Upper, Is.EqualTo(theta + half).Within(1e-12));
        Assert.That(look.Significant, Is.EqualTo(expectedLambda >= 1 / alpha));
    }

    [Test]
    public void Look_WhenTheNewLookIsWeaker_KeepsThePreviousPValue()
    {
        var weak = Msprt.Look(0.0, 0.01, 0.01, 0.05, previousPValue: 0.2);

        Assert.That(weak.PValue, Is.EqualTo(0.2));
    }

    [Test]
    public void Look_WhenTheConfidenceSequenceExcludesZero_IsSignificant()
    {
        // The sequence is the set of θ the test does not reject: 0 outside it is the same event as Λ ≥ 1/α.
        foreach (var theta in new[] { 0.01, 0.02, 0.03, 0.04, 0.06, 0.1 })
        {
            var look = Msprt.Look(theta, 0.0001, 0.0004, 0.05);
            Assert.That(look.Significant, Is.EqualTo(look.Lower > 0), $"θ = {theta}");
        }
    }

    [Test]
    public void Look_WhenTheStatisticIsHuge_DoesNotOverflow()
    {
        var look = Msprt.Look(10, 1e-8, 1, 0.05);

        Assert.That(look.PValue, Is.EqualTo(0));
        Assert.That(look.Significant, Is.True);
    }

    [Test]
    public void Look_WhenTheVarianceIsZero_HasNoEvidence()
    {
        var look = Msprt.Look(0.5, 0, 0.01, 0.05);

        Assert.That(look.Lambda, Is.EqualTo(0));
        Assert.That(look.PValue, Is.EqualTo(1));
        Assert.That(look.Significant, Is.False);
        Assert.That(double.IsInfinity(look.Upper), Is.True);
    }
}
