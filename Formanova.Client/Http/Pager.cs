using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.Kiota.Abstractions.Serialization;

namespace Formanova.Client.Http;

/// <summary>Walks a cursor-paged list: fetches a page, yields its items, follows its next-page token until there is none.</summary>
internal static class Pager
{
    public static async IAsyncEnumerable<TItem> ItemsAsync<TPage, TItem>(
        Func<string?, CancellationToken, Task<TPage?>> fetch,
        Func<TPage, IEnumerable<TItem>?> items,
        Func<TPage, object?> next,
        string? start,
        [EnumeratorCancellation] CancellationToken cancellationToken)
        where TPage : class
    {
        var token = start;
        do
        {
            var page = await fetch(token, cancellationToken).ConfigureAwait(false);
            if (page is null)
            {
                yield break;
            }

            foreach (var item in items(page) ?? [])
            {
                yield return item;
            }

            var following = Token(next(page));
            if (following is not null && following == token)
            {
                throw new InvalidOperationException($"The server returned the same page token twice ({following}).");
            }

            token = following;
        }
        while (token is not null);
    }

    /// <summary>
    /// The next-page token as text, whatever type the generated model gives it (a number, a string, or an untyped
    /// node while the document leaves the type open).
    /// </summary>
    public static string? Token(object? value) => value switch
    {
        null or UntypedNull => null,
        string text => text.Length == 0 ? null : text,
        UntypedString text => Token(text.GetValue()),
        UntypedLong number => number.GetValue().ToString(CultureInfo.InvariantCulture),
        UntypedInteger number => number.GetValue().ToString(CultureInfo.InvariantCulture),
        IFormattable number => number.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };
}
