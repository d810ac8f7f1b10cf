using System.Net;
using System.Net.Sockets;
using Formanova.Modules.Shared.Errors;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Event.Webhooks;

/// <summary>
/// The SSRF guard. A webhook URL must be http(s) without credentials, and every address its host resolves to
/// must be public unless configuration allows loopback, private or link-local ranges. The check runs when a
/// subscription is created and again on every connect (the sender connects only to addresses it checked), so a
/// DNS answer that changes later cannot redirect a delivery into the internal network.
/// </summary>
internal sealed class UrlGuard(IOptions<EventOptions> options)
{
    public const int MaxUrlLength = 2_048;

    private enum AddressKind
    {
        Public,
        Loopback,
        Private,
        LinkLocal,
        Never,
    }

    public static Uri Parse(string? url)
    {
        if (string.IsNullOrWhiteSpace(url))
        {
            throw ModuleException.Invalid("url", "A webhook URL is required.");
        }

        if (url.Length > MaxUrlLength)
        {
            throw ModuleException.Invalid("url", $"A webhook URL has at most {MaxUrlLength} characters.");
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
        {
            throw ModuleException.Invalid("url", "The webhook URL is not an absolute URL.");
        }

        if (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
        {
            throw ModuleException.Invalid("url", $"Only http and https webhook URLs are accepted, not '{uri.Scheme}'.");
        }

        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            throw ModuleException.Invalid("url", "A webhook URL must not carry credentials; the signature authenticates deliveries.");
        }

        if (!string.IsNullOrEmpty(uri.Fragment))
        {
            throw ModuleException.Invalid("url", "A webhook URL must not have a fragment.");
        }

        return uri;
    }

    /// <summary>Resolves the host and throws Invalid naming the first forbidden address.</summary>
    public async Task CheckAsync(Uri uri, CancellationToken cancellationToken)
    {
        IReadOnlyList<IPAddress> addresses;
        try
        {
            addresses = await ResolveAsync(uri.DnsSafeHost, cancellationToken);
        }
        catch (SocketException)
        {
            throw ModuleException.Invalid("url", $"The host '{uri.DnsSafeHost}' could not be resolved.");
        }

        if (Refusal(addresses) is { } refusal)
        {
            throw ModuleException.Invalid("url", refusal);
        }
    }

    public static async Task<IReadOnlyList<IPAddress>> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        var literal = host.Trim('[', ']');
        if (IPAddress.TryParse(literal, out var address))
        {
            return [address];
        }

        var addresses = await Dns.GetHostAddressesAsync(host, cancellationToken);
        return addresses.Length > 0 ? addresses : throw new SocketException((int)SocketError.HostNotFound);
    }

    /// <summary>Why these addresses may not be contacted, or null when all of them may.</summary>
    public string? Refusal(IEnumerable<IPAddress> addresses)
    {
        var webhooks = options.Value.Webhooks;
        foreach (var address in addresses)
        {
            var reason = Classify(address) switch
            {
                AddressKind.Loopback when !webhooks.AllowLoopback => "a loopback address (Event:Webhooks:AllowLoopback is off)",
                AddressKind.Private when !webhooks.AllowPrivateNetworks => "a private-network address (Event:Webhooks:AllowPrivateNetworks is off)",
                AddressKind.LinkLocal when !webhooks.AllowLinkLocal => "a link-local address (Event:Webhooks:AllowLinkLocal is off)",
                AddressKind.Never => "an unspecified, multicast or reserved address, which is never allowed",
                _ => null,
            };
            if (reason is not null)
            {
                return $"The webhook host resolves to {address}, {reason}.";
            }
        }

        return null;
    }

    private static AddressKind Classify(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (IPAddress.IsLoopback(address))
        {
            return AddressKind.Loopback;
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return b[0] switch
            {
                0 => AddressKind.Never,
                10 => AddressKind.Private,
                100 when b[1] is >= 64 and <= 127 => AddressKind.Private,
                169 when b[1] == 254 => AddressKind.LinkLocal,
                172 when b[1] is >= 16 and <= 31 => AddressKind.Private,
                192 when b[1] == 168 => AddressKind.Private,
                >= 224 => AddressKind.Never,
                _ => AddressKind.Public,
            };
        }

        var v6 = address.GetAddressBytes();
        // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) embed an IPv4 address that decides where the packet ends up.
        if (v6[0] == 0x00 && v6[1] == 0x64 && v6[2] == 0xff && v6[3] == 0x9b && v6.AsSpan(4, 8).IndexOfAnyExcept((byte)0) < 0)
        {
            return Classify(new IPAddress(v6.AsSpan(12, 4)));
        }

        if (v6[0] == 0x20 && v6[1] == 0x02)
        {
            return Classify(new IPAddress(v6.AsSpan(2, 4)));
        }

        return address.Equals(IPAddress.IPv6Any) || address.IsIPv6Multicast ? AddressKind.Never
            : address.IsIPv6LinkLocal ? AddressKind.LinkLocal
            : address.IsIPv6SiteLocal || address.IsIPv6UniqueLocal ? AddressKind.Private
            : AddressKind.Public;
    }
}
