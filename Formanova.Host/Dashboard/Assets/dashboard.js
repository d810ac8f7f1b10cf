// The dashboard's only script (docs/dashboard.md): live regions fed by Server-Sent Events. Every page works without
// it; with it, a region marked data-live="<stream path>" is replaced by each fragment the server sends.
(function () {
  'use strict';

  var tokenMeta = document.querySelector('meta[name="request-token"]');

  // Fragments are shared by every viewer of a page, so their forms come without this viewer's antiforgery token.
  function fillTokens(root) {
    if (!tokenMeta) {
      return;
    }
    root.querySelectorAll('input[name="__RequestVerificationToken"]').forEach(function (input) {
      if (!input.value) {
        input.value = tokenMeta.content;
      }
    });
  }

  // Keyboard users keep their place when a region is replaced under the focus.
  function focusKey(region) {
    var active = document.activeElement;
    return active && region.contains(active) ? active.getAttribute('data-focus-key') || active.id : null;
  }

  function restoreFocus(region, key) {
    if (!key) {
      return;
    }
    var target = region.querySelector('[data-focus-key="' + CSS.escape(key) + '"]') || document.getElementById(key);
    if (target) {
      target.focus();
    }
  }

  function connect(region) {
    var status = region.id ? document.querySelector('[data-live-status="' + region.id + '"]') : null;
    var say = function (text) {
      if (status) {
        status.textContent = text;
      }
    };
    var source = new EventSource(region.getAttribute('data-live'));
    source.addEventListener('open', function () {
      say('Live: updates as it changes.');
    });
    source.addEventListener('fragment', function (event) {
      var key = focusKey(region);
      region.innerHTML = event.data;
      fillTokens(region);
      restoreFocus(region, key);
      region.setAttribute('data-updated', String(Date.now()));
      say('Live: updates as it changes.');
    });
    source.addEventListener('end', function (event) {
      source.close();
      say(event.data === 'signed-out' ? 'Signed out: sign in again to see live updates.' : 'Final: this will not change any more.');
    });
    source.addEventListener('error', function () {
      if (source.readyState === EventSource.CLOSED) {
        say('Live updates stopped: reload the page to resume.');
      } else {
        say('Live updates interrupted; reconnecting…');
      }
    });
  }

  document.querySelectorAll('[data-live]').forEach(function (region) {
    fillTokens(region);
    connect(region);
  });
})();
