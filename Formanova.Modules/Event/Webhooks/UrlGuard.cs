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
                AddressKind.Private when !webhooks
                    .AllowPrivateNetworks => "a private-network address (Event:Webhooks:AllowPrivateNetworks is off)",
                AddressKind.LinkLocal when !webhooks.AllowLinkLocal => "a link-local address (Event:Webhooks:AllowLinkLocal is off)",
                AddressKind.Never
                    => "a special-purpose address (unspecified, multicast, reserved, documentation, benchmarking), which is never allowed",
                _ => null,
            };
            if (reason is not null)
            {
                return $"The webhook host resolves to {address}, {reason}.";
            }
        }

        return null;
    }

    /// <summary>
    /// The IANA IPv4 and IPv6 special-purpose address registries (RFC 6890 and its updates), most specific first.
    /// Ranges the registries mark globally reachable (AS112, AMT, PCP and TURN anycast) are public like any other
    /// address; documentation, benchmarking, reserved, translation and protocol-assignment ranges are never contacted.
    /// </summary>
    private static readonly (IPNetwork Network, AddressKind Kind)[] SpecialPurpose =
    [
        (IPNetwork.Parse("0.0.0.0/8"), AddressKind.Never),              // "this network"
        (IPNetwork.Parse("10.0.0.0/8"), AddressKind.Private),
        (IPNetwork.Parse("100.64.0.0/10"), AddressKind.Private),        // shared address space (carrier-grade NAT)
        (IPNetwork.Parse("127.0.0.0/8"), AddressKind.Loopback),
        (IPNetwork.Parse("169.254.0.0/16"), AddressKind.LinkLocal),
        (IPNetwork.Parse("172.16.0.0/12"), AddressKind.Private),
        (IPNetwork.Parse("192.0.0.9/32"), AddressKind.Public),          // PCP anycast
        (IPNetwork.Parse("192.0.0.10/32"), AddressKind.Public),         // TURN anycast
        (IPNetwork.Parse("192.0.0.0/24"), AddressKind.Never),           // IETF protocol assignments (DS-Lite, NAT64 discovery)
        (IPNetwork.Parse("192.0.2.0/24"), AddressKind.Never),           // TEST-NET-1
        (IPNetwork.Parse("192.88.99.0/24"), AddressKind.Never),         // 6to4 relay anycast, deprecated
        (IPNetwork.Parse("192.168.0.0/16"), AddressKind.Private),
        (IPNetwork.Parse("198.18.0.0/15"), AddressKind.Never),          // benchmarking
        (IPNetwork.Parse("198.51.100.0/24"), AddressKind.Never),        // TEST-NET-2
        (IPNetwork.Parse("203.0.113.0/24"), AddressKind.Never),         // TEST-NET-3
        (IPNetwork.Parse("224.0.0.0/4"), AddressKind.Never),            // multicast
        (IPNetwork.Parse("240.0.0.0/4"), AddressKind.Never),            // reserved, and the limited broadcast address
        (IPNetwork.Parse("::1/128"), AddressKind.Loopback),
        (IPNetwork.Parse("::/128"), AddressKind.Never),                 // unspecified
        (IPNetwork.Parse("::/96"), AddressKind.Never),                  // IPv4-compatible, deprecated
        (IPNetwork.Parse("::ffff:0:0:0/96"), AddressKind.Never),        // IPv4-translated (SIIT)
        (IPNetwork.Parse("64:ff9b:1::/48"), AddressKind.Private),       // local-use IPv4/IPv6 translation
        (IPNetwork.Parse("100::/64"), AddressKind.Never),               // discard-only
        (IPNetwork.Parse("2001:1::1/128"), AddressKind.Public),         // PCP anycast
        (IPNetwork.Parse("2001:1::2/128"), AddressKind.Public),         // TURN anycast
        (IPNetwork.Parse("2001:3::/32"), AddressKind.Public),           // AMT
        (IPNetwork.Parse("2001:4:112::/48"), AddressKind.Public),       // AS112
        (IPNetwork.Parse("2001::/23"), AddressKind.Never),              // IETF protocol assignments: Teredo, benchmarking, ORCHID
        (IPNetwork.Parse("2001:db8::/32"), AddressKind.Never),          // documentation
        (IPNetwork.Parse("3fff::/20"), AddressKind.Never),              // documentation
        (IPNetwork.Parse("5f00::/16"), AddressKind.Never),              // SRv6 segment identifiers
        (IPNetwork.Parse("fc00::/7"), AddressKind.Private),             // unique local
        (IPNetwork.Parse("fe80::/10"), AddressKind.LinkLocal),
        (IPNetwork.Parse("fec0::/10"), AddressKind.Private),            // site-local, deprecated
        (IPNetwork.Parse("ff00::/8"), AddressKind.Never),               // multicast
    ];

    private static AddressKind Classify(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
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
        }

        foreach (var (network, kind) in SpecialPurpose)
        {
            if (network.Contains(address))
            {
                return kind;
            }
        }

        return AddressKind.Public;
    }
}
