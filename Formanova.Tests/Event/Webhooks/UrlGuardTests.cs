using System.Net;
using Formanova.Modules.Event;
using Formanova.Modules.Event.Webhooks;
using Microsoft.Extensions.Options;

namespace Formanova.Tests.Event.Webhooks;

/// <summary>The address classification alone: nothing here resolves a name or opens a connection.</summary>
public sealed class UrlGuardTests
{
    private static readonly UrlGuard Permissive = new(Options.Create(new EventOptions
    {
        Webhooks = { AllowLoopback = true, AllowPrivateNetworks = true, AllowLinkLocal = true },
    }));

    [TestCase("198.18.0.0")]
    [TestCase("198.19.200.1")]
    [TestCase("192.0.0.170")]
    [TestCase("192.0.2.1")]
    [TestCase("198.51.100.1")]
    [TestCase("203.0.113.255")]
    [TestCase("0.1.2.3")]
    [TestCase("239.255.255.250")]
    [TestCase("250.1.1.1")]
    [TestCase("::")]
    [TestCase("::ffff:0:c000:201")]
    [TestCase("2001:2::1")]
    [TestCase("2001:10::1")]
    [TestCase("2001:db8:ffff::1")]
    [TestCase("3fff:fff::1")]
    [TestCase("5f00::1")]
    [TestCase("ff05::2")]
    [TestCase("::ffff:198.18.0.1")]
    [TestCase("64:ff9b::c000:201")]
    [TestCase("2002:c612:1::1")]
    public void Refusal_WhenAnAddressIsSpecialPurpose_RefusesItEvenWithEveryAllowanceOn(string address) =>
        Assert.That(Permissive.Refusal([IPAddress.Parse(address)]), Does.Contain("never allowed"));

    [TestCase("192.0.0.9")]
    [TestCase("192.0.0.10")]
    [TestCase("192.31.196.1")]
    [TestCase("192.175.48.1")]
    [TestCase("8.8.8.8")]
    [TestCase("2001:3::1")]
    [TestCase("2001:4:112::1")]
    [TestCase("2606:4700::1111")]
    public void Refusal_WhenAnAddressIsGloballyReachable_AcceptsIt(string address)
    {
        var strict = new UrlGuard(Options.Create(new EventOptions { Webhooks = { AllowLoopback = false } }));

        Assert.That(strict.Refusal([IPAddress.Parse(address)]), Is.Null);
    }
}
