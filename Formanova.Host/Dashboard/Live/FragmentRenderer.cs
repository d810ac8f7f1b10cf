using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;

namespace Formanova.Host.Dashboard.Live;

/// <summary>
/// Renders a component to HTML outside any request, for the live feeds: the same component a page renders inline, so a
/// region looks the same before and after its first update.
/// </summary>
internal sealed class FragmentRenderer(IServiceProvider services, ILoggerFactory loggers)
{
    public async Task<string> RenderAsync<TComponent>(IDictionary<string, object?> parameters)
        where TComponent : IComponent
    {
        // A renderer keeps every component it rendered until it is disposed: one per render keeps nothing.
        await using var renderer = new HtmlRenderer(services, loggers);
        return await renderer.Dispatcher.InvokeAsync(async () =>
            (await renderer.RenderComponentAsync<TComponent>(ParameterView.FromDictionary(parameters))).ToHtmlString());
    }
}
