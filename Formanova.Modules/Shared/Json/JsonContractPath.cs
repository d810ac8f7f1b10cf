using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Formanova.Modules.Shared.Json;

/// <summary>Follows a JSON path, as <see cref="JsonException.Path"/> writes it, through a type's serialization contract.</summary>
internal static class JsonContractPath
{
    /// <summary>Where a path leads.</summary>
    /// <param name="Contract">The contract of the value at the path; null past an untyped value or for an unknown member.</param>
    /// <param name="UnknownMember">The path's last member when the object it is in has no such member and refuses unknown ones.</param>
    public sealed record Target(JsonTypeInfo? Contract, string? UnknownMember);

    /// <summary>
    /// The target of <paramref name="path"/> (<c>$.items[1]['the key']</c>) in <paramref name="root"/>, or null if it leaves it.
    /// </summary>
    public static Target? Resolve(JsonTypeInfo root, string path)
    {
        if (!path.StartsWith('$'))
        {
            return null;
        }

        var contract = Underlying(root);
        var segments = Segments(path);
        for (var i = 0; i < segments.Count; i++)
        {
            var (name, index) = segments[i];
            if (contract is null)
            {
                return null;
            }

            switch (contract.Kind)
            {
                case JsonTypeInfoKind.Enumerable when index:
                case JsonTypeInfoKind.Dictionary when !index:
                    contract = Element(contract);
                    break;
                case JsonTypeInfoKind.Object when !index:
                    var comparison = contract.Options.PropertyNameCaseInsensitive
                        ? StringComparison.OrdinalIgnoreCase
                        : StringComparison.Ordinal;
                    var member = contract.Properties.FirstOrDefault(p => string.Equals(p.Name, name, comparison));
                    if (member is null)
                    {
                        var refused = (contract.UnmappedMemberHandling ?? contract.Options.UnmappedMemberHandling)
                            == JsonUnmappedMemberHandling.Disallow;
                        return i == segments.Count - 1 && refused ? new Target(null, name) : null;
                    }

                    contract = Underlying(contract.Options.GetTypeInfo(member.PropertyType));
                    break;
                default:
                    return null;
            }
        }

        return new Target(contract, null);
    }

    private static JsonTypeInfo? Element(JsonTypeInfo contract) =>
        contract.ElementType is { } element ? Underlying(contract.Options.GetTypeInfo(element)) : null;

    /// <summary>The contract of <c>T</c> for a <c>T?</c>; untyped values (<c>object</c>, elements) have none to follow.</summary>
    private static JsonTypeInfo? Underlying(JsonTypeInfo contract)
    {
        if (Nullable.GetUnderlyingType(contract.Type) is { } type)
        {
            contract = contract.Options.GetTypeInfo(type);
        }

        return contract.Kind == JsonTypeInfoKind.None ? null : contract;
    }

    /// <summary>
    /// The member names and array indexes of a path. A name with a special character is written <c>['name']</c>, with
    /// nothing escaped, so a bracketed name ends at the first <c>']</c> that ends the path or is followed by another segment.
    /// </summary>
    private static List<(string Name, bool Index)> Segments(string path)
    {
        var segments = new List<(string, bool)>();
        var at = 1;
        while (at < path.Length)
        {
            if (path[at] == '.')
            {
                var end = path.IndexOfAny(['.', '['], at + 1);
                end = end < 0 ? path.Length : end;
                segments.Add((path[(at + 1)..end], false));
                at = end;
            }
            else if (path.AsSpan(at).StartsWith("['"))
            {
                var end = at + 2;
                while ((end = path.IndexOf("']", end, StringComparison.Ordinal)) >= 0
                    && end + 2 < path.Length && path[end + 2] is not ('.' or '['))
                {
                    end++;
                }

                end = end < 0 ? path.Length : end;
                segments.Add((path[(at + 2)..end], false));
                at = end + 2;
            }
            else if (path[at] == '[')
            {
                var end = path.IndexOf(']', at);
                end = end < 0 ? path.Length : end;
                segments.Add((path[(at + 1)..end], true));
                at = end + 1;
            }
            else
            {
                break;
            }
        }

        return segments;
    }
}
