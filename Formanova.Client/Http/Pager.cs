using System.Runtime.CompilerServices;

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

            var following = FormanovaValues.Text(next(page));
            if (following is not null && following == token)
            {
                throw new InvalidOperationException($"The server returned the same page token twice ({following}).");
            }

            token = following;
        }
        while (token is not null);
    }
}
