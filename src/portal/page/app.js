// The customer portal page: vanilla JS, no build step. Talks to /v1/portal/* with the session token
// from the URL fragment (#token=…). Test mode (the Stripe emulator) asks the portal server to do what
// Stripe.js would; with a real Stripe key, Stripe.js is mounted with the purchase's client secret.
// Another portal link opened in the same tab changes only the fragment (no reload): the page then
// forgets the customer it showed, everything in flight for them included, and shows the new one.
(() => {
  const POLL_MS = 800;
  const terminal = ['completed', 'ineligible', 'expired', 'failed', 'refunded', 'canceled'];
  const statusLabels = {
    pending: 'Starting',
    awaiting_payment_method: 'Card needed',
    charging: 'Charging',
    requires_action: 'Confirmation needed',
    crediting: 'Adding credits',
    completed: 'Completed',
    ineligible: 'Not allowed',
    expired: 'Expired',
    failed: 'Failed',
    refunded: 'Refunded',
    canceled: 'Canceled',
  };
  const statusText = {
    pending: 'Checking your purchase…',
    awaiting_payment_method: 'Add a card below to continue.',
    charging: 'Charging your card…',
    requires_action: 'Your bank wants you to confirm this payment.',
    crediting: 'Payment received; adding your credits…',
  };
  /** Failure codes in plain words; the purchase's own message follows as the detail. */
  const failureTitles = {
    card_declined: 'Your card was declined.',
    authentication_failed: 'Your bank could not confirm the payment.',
    authentication_timeout: 'The payment was not confirmed in time.',
    payment_method_not_added: 'No card was added in time.',
    canceled: 'The purchase was canceled.',
    payment_failed: 'The payment could not be completed.',
    crediting_failed: 'The credits could not be added, so you were refunded.',
    subscription_past_due: 'Your subscription is past due.',
    subscription_canceled: 'Your subscription is canceled.',
    subscription_ended: 'Your subscription has ended.',
    subscription_inactive: 'You need an active subscription.',
    plan_not_credits_based: 'Your plan does not use credits.',
    pack_not_visible: 'This pack is not offered on your plan.',
    credit_pack_not_found: 'This pack no longer exists.',
    credit_pack_archived: 'This pack is no longer sold.',
    customer_not_found: 'Your account could not be found.',
  };

  const $ = (id) => document.getElementById(id);
  const state = {
    token: null,
    /** Bumped whenever the page switches customer: answers and steps of an older one are dropped. */
    generation: 0,
    /** Aborts the switched-from customer's requests still in flight. */
    abort: new AbortController(),
    settings: null,
    packs: new Map(),
    current: null,
    pollTimer: null,
    busy: false,
    /**
     * The checkout whose answer never came (network trouble, 5xx after the retries): it may have been
     * recorded, so the next click for the same pack and quantity sends the same key and finds it,
     * instead of making a second purchase. Cleared once any answer comes.
     */
    unanswered: null,
    setupAuth: false,
    stripe: null,
    stripeKey: null,
    cardElement: null,
    /**
     * A card replacement under way: its SetupIntent's client secret, and the purchase to make again
     * once the card is saved ("Use another card" after a decline), or null.
     */
    replacement: null,
    replaceCardElement: null,
  };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'className') node.className = value;
      else if (key === 'onclick') node.addEventListener('click', value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === 'string' || typeof child === 'number' ? String(child) : child);
    }
    return node;
  }

  const money = (cents) => `$${(cents / 100).toFixed(2)}`;
  const credits = (n) => Number(n).toLocaleString('en-US');
  const show = (node, visible) => {
    node.hidden = !visible;
  };

  /** The token of a portal link in the fragment (null if none), taken out of the address bar. */
  function tokenFromHash() {
    const match = /(?:^|[#&])token=([^&]+)/.exec(window.location.hash);
    if (!match) return null;
    let token = null;
    try {
      token = decodeURIComponent(match[1]);
    } catch {
      return null;
    }
    sessionStorage.setItem('portalToken', token);
    // Keep the token out of the address bar (and of anything copied from it).
    history.replaceState(null, '', window.location.pathname);
    return token;
  }

  function readToken() {
    return tokenFromHash() || sessionStorage.getItem('portalToken');
  }

  /** What a request or step of a customer the page has switched away from ends with: ignored. */
  function staleError() {
    const error = new Error('The page switched to another customer.');
    error.stale = true;
    return error;
  }
  const isStale = (error) => Boolean(error?.stale);

  async function api(method, path, body, headers) {
    const generation = state.generation;
    const { signal } = state.abort;
    let response;
    let answer = null;
    try {
      response = await fetch(path, {
        method,
        headers: {
          authorization: `Bearer ${state.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(headers || {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
      try {
        answer = await response.json();
      } catch {
        answer = null;
      }
    } catch (error) {
      if (signal.aborted) throw staleError();
      throw error;
    }
    // Whatever answered, it was for a customer no longer shown: nothing of it may reach the page.
    if (generation !== state.generation || signal.aborted) throw staleError();
    if (!response.ok || !answer || answer.success !== true) {
      const error = new Error(answer?.error?.message || `The server answered ${response.status}.`);
      error.code = answer?.error?.code || 'http_error';
      error.status = response.status;
      throw error;
    }
    return answer.data;
  }

  function showError(message) {
    $('error').textContent = message;
    show($('error'), Boolean(message));
  }

  /** Shows a failure in plain words, unless it belongs to a customer the page switched away from. */
  function showFailure(error) {
    if (isStale(error)) return;
    showError(failureTitles[error.code] ? `${failureTitles[error.code]} ${error.message}` : error.message);
  }

  function failureWords(failure) {
    if (!failure) return '';
    const title = failureTitles[failure.code] || 'The purchase did not go through.';
    return failure.message && failure.message !== title ? `${title} ${failure.message}` : title;
  }

  // ── Balance, packs, history ───────────────────────────────────────────────────────────────────
  async function loadBalance() {
    const balance = await api('GET', '/v1/portal/balance');
    $('plan-credits').textContent = credits(balance.planCredits);
    $('purchased-credits').textContent = credits(balance.purchasedCredits);
    $('total-credits').textContent = credits(balance.total);
    // Credits taken back after they were used (a refund, a dispute) leave a debt: shown, never hidden.
    const debt = balance.purchasedCredits < 0;
    $('purchased-credits').classList.toggle('negative', debt);
    $('total-credits').classList.toggle('negative', balance.total < 0);
    $('debt').textContent = debt
      ? `You owe ${credits(-balance.purchasedCredits)} credits: credits taken back after they were used ` +
        '(a refund or a dispute). Your next purchase pays this off first.'
      : '';
    show($('debt'), debt);
  }

  // ── The card on file ──────────────────────────────────────────────────────────────────────────
  const brandNames = {
    visa: 'Visa',
    mastercard: 'Mastercard',
    amex: 'American Express',
    discover: 'Discover',
  };

  function cardWords(card) {
    if (!card) return 'No card on file. Your first purchase asks for one, or add one now.';
    const brand = brandNames[card.brand] || card.brand;
    const month = String(card.expMonth).padStart(2, '0');
    return `${brand} ending in ${card.last4}, expires ${month}/${card.expYear}.`;
  }

  function showCard(card) {
    const summary = $('card-summary');
    summary.textContent = cardWords(card);
    summary.dataset.last4 = card ? card.last4 : '';
    $('replace-card').textContent = card ? 'Replace card' : 'Add a card';
    show($('replace-card'), true);
  }

  /**
   * Test mode: the emulator's test cards as radio buttons in `options` (input name `name`, test ids
   * `<testIdPrefix>-<last4>`), once; a render that finds them filled meanwhile leaves them as they are.
   */
  async function fillTestCardOptions(options, name, testIdPrefix) {
    if (options.childElementCount > 0) return;
    const cards = await api('GET', '/v1/portal/test-mode/cards');
    if (options.childElementCount > 0) return;
    cards.forEach((card, i) => {
      options.append(
        el(
          'label',
          {},
          el('input', {
            type: 'radio',
            name,
            value: card.number,
            checked: i === 0,
            'data-testid': `${testIdPrefix}-${card.number.slice(-4)}`,
          }),
          ` ${card.label}`,
        ),
      );
    });
  }

  async function loadCard() {
    try {
      showCard(await api('GET', '/v1/portal/payment-method'));
    } catch (error) {
      if (isStale(error)) throw error;
      $('card-summary').textContent = 'Your card could not be read right now.';
      show($('replace-card'), true);
    }
  }

  /** The header line: who, their plan, and whether a card is on file. */
  function showWho(me) {
    $('who').textContent = `${me.customer.name} (${me.customer.email})${
      me.subscription ? ` · ${me.subscription.planName} plan, ${me.subscription.status}` : ''
    }${me.hasPaymentMethod ? ' · card on file' : ' · no card on file'}`;
  }

  /**
   * Opens the "new card" step: a SetupIntent for the customer (POST /v1/portal/payment-method), filled
   * with a test card (test mode) or Stripe.js's card field. `rebuy`: the declined purchase's pack and
   * quantity, bought again once the card is saved.
   */
  async function openReplacement(rebuy) {
    if (state.replacement) return;
    const generation = state.generation;
    showError('');
    show($('card-saved'), false);
    state.replacement = { clientSecret: null, rebuy: rebuy || null };
    const step = $('replace-step');
    $('replace-text').textContent = rebuy
      ? 'Add another card: it replaces the one on file, and your purchase is made again with it.'
      : 'The new card replaces the one on file for every later purchase.';
    $('save-replacement').textContent = rebuy ? 'Save card and buy again' : 'Save card';
    $('replace-card').disabled = true;
    $('use-another-card').disabled = true;
    show($('replace-auth'), false);
    show(step, true);
    step.scrollIntoView({ block: 'nearest' });
    try {
      const { clientSecret } = await api('POST', '/v1/portal/payment-method');
      state.replacement.clientSecret = clientSecret;
      if (state.settings.testMode) {
        show($('replace-test-cards'), true);
        show($('replace-stripe-card'), false);
        await fillTestCardOptions($('replace-test-card-options'), 'replace-test-card', 'replace-card');
      } else {
        show($('replace-test-cards'), false);
        show($('replace-stripe-card'), true);
        if (!state.replaceCardElement) {
          const stripe = await loadStripe();
          if (generation !== state.generation) throw staleError();
          // An Elements group of its own: the purchase's card step may hold a card field already.
          state.replaceCardElement = stripe.elements().create('card');
          state.replaceCardElement.mount('#replace-stripe-card');
        }
      }
    } catch (error) {
      if (isStale(error)) return;
      closeReplacement();
      showFailure(error);
    }
  }

  function closeReplacement() {
    state.replacement = null;
    show($('replace-step'), false);
    show($('replace-auth'), false);
    $('replace-card').disabled = false;
    $('use-another-card').disabled = false;
    $('save-replacement').disabled = false;
  }

  async function saveReplacement() {
    const replacement = state.replacement;
    if (!replacement?.clientSecret) return;
    const generation = state.generation;
    const button = $('save-replacement');
    button.disabled = true;
    showError('');
    try {
      if (state.settings.testMode) {
        const card = document.querySelector('input[name="replace-test-card"]:checked')?.value;
        if (!card) throw new Error('Pick a test card first.');
        const result = await api(
          'POST',
          `/v1/portal/test-mode/setup-intents/${intentId(replacement.clientSecret)}/confirm`,
          { card },
        );
        if (result.requiresAction) {
          show($('replace-auth'), true);
          show($('replace-test-auth'), true);
          return;
        }
      } else {
        const stripe = await loadStripe();
        const { error } = await stripe.confirmCardSetup(replacement.clientSecret, {
          payment_method: { card: state.replaceCardElement },
        });
        if (generation !== state.generation) throw staleError();
        if (error) throw new Error(error.message);
      }
      await replacementSaved(replacement);
    } catch (error) {
      showFailure(error);
    } finally {
      if (generation === state.generation) button.disabled = false;
    }
  }

  async function authenticateReplacement(outcome) {
    const replacement = state.replacement;
    if (!replacement?.clientSecret) return;
    const generation = state.generation;
    const buttons = $('replace-auth').querySelectorAll('button');
    for (const b of buttons) b.disabled = true;
    showError('');
    try {
      const result = await api(
        'POST',
        `/v1/portal/test-mode/setup-intents/${intentId(replacement.clientSecret)}/authenticate`,
        { outcome },
      );
      show($('replace-auth'), false);
      if (result.status !== 'succeeded') {
        showError('Your bank could not confirm this card. Pick another card.');
        return;
      }
      await replacementSaved(replacement);
    } catch (error) {
      showFailure(error);
    } finally {
      if (generation === state.generation) for (const b of buttons) b.disabled = false;
    }
  }

  /**
   * The SetupIntent succeeded: tell the portal (it re-reads it from Stripe and makes the card the
   * default), show the card, and make the declined purchase again when that is what the card was for.
   */
  async function replacementSaved(replacement) {
    const card = await api('POST', '/v1/portal/payment-method/refresh', {
      setupIntentId: intentId(replacement.clientSecret),
    });
    closeReplacement();
    showCard(card);
    $('card-saved').textContent = 'Your new card is saved.';
    show($('card-saved'), true);
    api('GET', '/v1/portal/me')
      .then(showWho)
      .catch(() => {});
    // A new card resumes an auto top-up paused for a declined or missing card (it may top up now).
    loadAutoTopUp().catch(() => {});
    const rebuy = replacement.rebuy;
    if (!rebuy) {
      await followOpenTopUp();
      return;
    }
    const pack = state.packs.get(rebuy.packId);
    const button = document.querySelector(`[data-testid="buy-${rebuy.packId}"]`);
    if (!pack || !button) {
      showError('Your card is saved, but this pack can no longer be bought.');
      return;
    }
    await buy(pack, rebuy.quantity, button);
  }

  // ── Auto top-up ───────────────────────────────────────────────────────────────────────────────
  /** Why an auto top-up is paused, in plain words, with what resumes it. */
  const pausedWords = {
    card_declined:
      'Paused: your card was declined three times in a row. Replace your card above, or save these settings again, to resume.',
    no_payment_method: 'Paused: there is no card on file. Add a card above to resume.',
    authentication_required:
      'Paused: your bank asked to confirm a top-up (3-D Secure), which cannot be done while you are away. Save these settings again to resume.',
    monthly_limit:
      "Paused: this month's top-ups reached your monthly limit. It resumes on the 1st of next month, or raise the limit and save.",
    pack_unavailable: 'Paused: the pack you chose is no longer offered. Choose another pack and save.',
    not_eligible: 'Paused: your plan or subscription does not allow buying credits now.',
  };

  async function loadAutoTopUp() {
    let settings;
    try {
      settings = await api('GET', '/v1/portal/auto-top-up');
    } catch (error) {
      if (isStale(error)) throw error;
      show($('auto-top-up'), false);
      return;
    }
    renderAutoTopUp(settings);
  }

  function packWords(packId, quantity) {
    const pack = state.packs.get(packId);
    const name = pack ? pack.name : 'a pack no longer offered';
    return pack
      ? `${quantity} × ${name} (${credits(pack.credits * quantity)} credits, ${money(pack.price * quantity)})`
      : name;
  }

  function renderAutoTopUp(settings) {
    show($('auto-top-up'), state.packs.size > 0 || settings.enabled);
    const line = $('auto-state');
    line.dataset.state = settings.state;
    line.textContent =
      settings.state === 'off'
        ? 'Off: credits are bought only when you buy them.'
        : `${settings.state === 'paused' ? 'Paused' : 'On'}: when your credits fall below ` +
          `${credits(settings.thresholdCredits)}, ${packWords(settings.creditPackId, settings.quantity)} is ` +
          `bought with your card on file, at most ${money(settings.monthlyLimit)} a month.`;
    const paused = $('auto-paused');
    paused.textContent = settings.pausedReason ? pausedWords[settings.pausedReason] || 'Paused.' : '';
    paused.dataset.reason = settings.pausedReason || '';
    show(paused, Boolean(settings.pausedReason));

    $('auto-enabled').checked = settings.enabled;
    $('auto-threshold').value = settings.thresholdCredits === null ? '' : String(settings.thresholdCredits);
    $('auto-quantity').value = String(settings.quantity ?? 1);
    $('auto-quantity').max = String(state.settings.maxQuantity);
    $('auto-limit').value = settings.monthlyLimit === null ? '' : (settings.monthlyLimit / 100).toFixed(2);
    const select = $('auto-pack');
    select.replaceChildren();
    for (const pack of state.packs.values()) {
      select.append(
        el(
          'option',
          { value: pack.id },
          `${pack.name}: ${credits(pack.credits)} credits for ${money(pack.price)}`,
        ),
      );
    }
    if (settings.creditPackId && !state.packs.has(settings.creditPackId)) {
      select.append(el('option', { value: settings.creditPackId }, 'The pack you chose (no longer offered)'));
    }
    if (settings.creditPackId) select.value = settings.creditPackId;
  }

  async function saveAutoTopUp(event) {
    event.preventDefault();
    const generation = state.generation;
    const button = $('auto-save');
    showError('');
    show($('auto-saved'), false);
    const thresholdCredits = Number($('auto-threshold').value);
    const quantity = Number($('auto-quantity').value);
    const limitDollars = Number($('auto-limit').value);
    const creditPackId = $('auto-pack').value;
    if ($('auto-threshold').value === '' || !Number.isInteger(thresholdCredits) || thresholdCredits < 0) {
      showError('The threshold is a whole number of credits, 0 or more.');
      return;
    }
    if (!Number.isInteger(quantity) || quantity < 1 || quantity > state.settings.maxQuantity) {
      showError(`Choose a quantity from 1 to ${state.settings.maxQuantity}.`);
      return;
    }
    if ($('auto-limit').value === '' || !Number.isFinite(limitDollars) || limitDollars < 0) {
      showError('The monthly limit is an amount in dollars, 0 or more.');
      return;
    }
    if (!creditPackId) {
      showError('Choose a pack to buy.');
      return;
    }
    button.disabled = true;
    try {
      const saved = await api('PUT', '/v1/portal/auto-top-up', {
        enabled: $('auto-enabled').checked,
        thresholdCredits,
        creditPackId,
        quantity,
        monthlyLimit: Math.round(limitDollars * 100),
      });
      renderAutoTopUp(saved);
      show($('auto-saved'), true);
      // Saved below the threshold, a top-up starts at once: follow it like a purchase.
      await followOpenTopUp();
    } catch (error) {
      showFailure(error);
    } finally {
      if (generation === state.generation) button.disabled = false;
    }
  }

  /** Follows an auto top-up in flight (unless a purchase of the customer's own is being followed). */
  async function followOpenTopUp() {
    const purchases = await loadHistory();
    const busy = state.current && !terminal.includes(state.current.status);
    const open = purchases.find((p) => p.trigger === 'auto_top_up' && !terminal.includes(p.status));
    if (open && !busy) follow(open);
    else await loadBalance();
  }

  /** "Use another card" on a declined purchase: a new card, then the same pack and quantity again. */
  function useAnotherCard() {
    const purchase = state.current;
    if (!purchase) return;
    openReplacement({ packId: purchase.creditPackId, quantity: purchase.quantity });
  }

  function renderPacks(packs, me) {
    const list = $('packs');
    list.replaceChildren();
    state.packs = new Map(packs.map((p) => [p.id, p]));
    const blocked = me.canPurchase && !me.canPurchase.ok;
    $('cannot-buy').textContent = blocked ? me.canPurchase.message : '';
    show($('cannot-buy'), blocked);
    if (packs.length === 0 && !blocked) {
      list.append(el('li', {}, 'No credit packs are offered on your plan.'));
    }
    for (const pack of packs) {
      const quantity = el('input', {
        type: 'number',
        min: 1,
        max: state.settings.maxQuantity,
        value: 1,
        'aria-label': `Quantity of ${pack.name}`,
        'data-testid': `quantity-${pack.id}`,
      });
      const button = el(
        'button',
        {
          type: 'button',
          'data-testid': `buy-${pack.id}`,
          'data-pack-name': pack.name,
          disabled: blocked,
          onclick: () => buy(pack, Number(quantity.value), button),
        },
        'Buy',
      );
      list.append(
        el(
          'li',
          { 'data-testid': 'pack' },
          el(
            'div',
            {},
            el('div', { className: 'name' }, pack.name),
            el('div', { className: 'desc' }, `${credits(pack.credits)} credits for ${money(pack.price)}`),
            pack.description ? el('div', { className: 'desc' }, pack.description) : null,
          ),
          el('div', {}, el('label', {}, 'Quantity', quantity), button),
        ),
      );
    }
  }

  async function loadHistory() {
    const purchases = await api('GET', '/v1/portal/purchases?limit=50');
    const body = $('history');
    body.replaceChildren();
    show($('history-empty'), purchases.length === 0);
    show($('history-table'), purchases.length > 0);
    for (const p of purchases) {
      const pack = state.packs.get(p.creditPackId);
      body.append(
        el(
          'tr',
          { 'data-testid': 'history-row', 'data-purchase-id': p.id, 'data-status': p.status },
          el('td', {}, new Date(p.createdAt).toLocaleString()),
          el(
            'td',
            {},
            `${p.quantity} × ${pack ? pack.name : p.creditPackId}`,
            p.trigger === 'auto_top_up' ? el('span', { className: 'hint' }, ' (auto top-up)') : null,
          ),
          el('td', {}, credits(p.credits)),
          el('td', {}, money(p.price)),
          el('td', {}, el('span', { className: `status ${p.status}` }, statusLabels[p.status] || p.status)),
          el(
            'td',
            {},
            p.failure ? failureWords(p.failure) : p.status === 'completed' ? 'Credits added.' : '',
            hasReceipt(p) ? ' ' : null,
            hasReceipt(p)
              ? el(
                  'a',
                  {
                    href: `/v1/portal/purchases/${p.id}/receipt`,
                    'data-testid': 'receipt-link',
                    onclick: (event) => {
                      event.preventDefault();
                      openReceipt(p.id);
                    },
                  },
                  'Receipt',
                )
              : null,
          ),
        ),
      );
    }
    return purchases;
  }

  /** A purchase that completed has a receipt, also once refunded afterwards. */
  function hasReceipt(p) {
    return p.status === 'completed' || p.failure?.code === 'refunded_after_completion';
  }

  /**
   * Opens the printable receipt in a new tab: the page holds the session token, so it fetches the HTML
   * with it and shows it from a blob (the tab is opened at once, within the click).
   */
  async function openReceipt(purchaseId) {
    const tab = window.open('', '_blank');
    try {
      const response = await fetch(`/v1/portal/purchases/${purchaseId}/receipt`, {
        headers: { authorization: `Bearer ${state.token}`, accept: 'text/html' },
        signal: state.abort.signal,
      });
      if (!response.ok) throw new Error(`the receipt answered ${response.status}`);
      const html = await response.text();
      const url = URL.createObjectURL(new Blob([html], { type: 'text/html' }));
      if (tab) tab.location.href = url;
      else window.location.href = url;
    } catch (error) {
      tab?.close();
      if (!isStale(error) && error?.name !== 'AbortError')
        showError(`Could not open the receipt: ${error.message}`);
    }
  }

  // ── Buying and following a purchase ───────────────────────────────────────────────────────────
  function newKey() {
    if (window.crypto?.randomUUID) return window.crypto.randomUUID();
    return `k-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  }

  async function buy(pack, quantity, button) {
    if (state.busy) return;
    const generation = state.generation;
    showError('');
    if (!Number.isInteger(quantity) || quantity < 1 || quantity > state.settings.maxQuantity) {
      showError(`Choose a quantity from 1 to ${state.settings.maxQuantity}.`);
      return;
    }
    state.busy = true;
    button.disabled = true;
    // One key per purchase: a retry of this request (network trouble), or a click after the retries gave
    // up without an answer, is the same purchase, never a second one.
    const same =
      state.unanswered && state.unanswered.packId === pack.id && state.unanswered.quantity === quantity;
    const key = same ? state.unanswered.key : newKey();
    state.unanswered = { packId: pack.id, quantity, key };
    try {
      let purchase;
      for (let attempt = 1; ; attempt++) {
        try {
          purchase = await api(
            'POST',
            '/v1/portal/purchases',
            { creditPackId: pack.id, quantity },
            {
              'idempotency-key': key,
            },
          );
          break;
        } catch (error) {
          const retryable = !isStale(error) && (!error.status || error.status >= 500);
          // An answer (a refusal) means nothing is pending under this key: the next click is a new purchase.
          if (!retryable && !isStale(error)) state.unanswered = null;
          if (!retryable || attempt >= 3) throw error;
        }
      }
      state.unanswered = null;
      follow(purchase);
      loadHistory().catch(() => {});
    } catch (error) {
      showFailure(error);
    } finally {
      // A switch of customer meanwhile has reset these for the new one already.
      if (generation === state.generation) {
        state.busy = false;
        button.disabled = false;
      }
    }
  }

  function follow(purchase) {
    state.current = purchase;
    render(purchase);
    clearTimeout(state.pollTimer);
    if (!terminal.includes(purchase.status)) {
      state.pollTimer = setTimeout(poll, POLL_MS);
      return;
    }
    // Settled already (checkout answers once the purchase settles, when that is quick).
    Promise.all([loadBalance(), loadHistory()]).catch(showFailure);
  }

  async function poll() {
    if (!state.current) return;
    const generation = state.generation;
    try {
      const purchase = await api('GET', `/v1/portal/purchases/${state.current.id}`);
      const changed = purchase.status !== state.current.status;
      state.current = purchase;
      render(purchase, changed);
      if (terminal.includes(purchase.status)) {
        await Promise.all([loadBalance(), loadHistory()]);
        return;
      }
    } catch (error) {
      if (isStale(error)) return;
      showError(`Could not refresh the purchase: ${error.message}`);
    }
    if (generation !== state.generation) return;
    state.pollTimer = setTimeout(poll, POLL_MS);
  }

  function render(purchase) {
    const section = $('progress');
    show(section, true);
    section.dataset.purchaseId = purchase.id;
    section.dataset.status = purchase.status;
    $('progress-title').textContent = purchase.trigger === 'auto_top_up' ? 'Auto top-up' : 'Your purchase';
    const pack = state.packs.get(purchase.creditPackId);
    $('progress-summary').textContent =
      `${purchase.quantity} × ${pack ? pack.name : purchase.creditPackId}: ` +
      `${credits(purchase.credits)} credits for ${money(purchase.price)}`;
    const status = $('progress-status');
    status.className = `status ${purchase.status}`;
    status.textContent = statusLabels[purchase.status] || purchase.status;
    let text = statusText[purchase.status] || '';
    if (purchase.status === 'completed')
      text = `Done: ${credits(purchase.credits)} credits were added to your balance.`;
    else if (purchase.failure) text = failureWords(purchase.failure);
    $('progress-text').textContent = text;

    const next = purchase.nextAction;
    const needsCard = purchase.status === 'awaiting_payment_method' && next?.type === 'add_payment_method';
    const needsAuth = purchase.status === 'requires_action' && next?.type === 'authenticate';
    renderCardStep(needsCard ? next.clientSecret : null).catch(showFailure);
    renderAuthStep(needsAuth ? { kind: 'payment', clientSecret: next.clientSecret } : null);
    show($('cancel'), ['pending', 'awaiting_payment_method', 'requires_action'].includes(purchase.status));
    show($('use-another-card'), purchase.status === 'failed' && purchase.failure?.code === 'card_declined');
  }

  // ── "Add a card" ──────────────────────────────────────────────────────────────────────────────
  const intentId = (clientSecret) => clientSecret.split('_secret_')[0];

  async function renderCardStep(clientSecret) {
    const step = $('card-step');
    if (!clientSecret) {
      show(step, false);
      if (!state.setupAuth) renderAuthStep(null);
      return;
    }
    if (step.dataset.clientSecret === clientSecret && !step.hidden) return;
    step.dataset.clientSecret = clientSecret;
    show(step, true);
    if (state.settings.testMode) {
      show($('test-cards'), true);
      show($('stripe-card'), false);
      await fillTestCardOptions($('test-card-options'), 'test-card', 'test-card');
    } else {
      show($('test-cards'), false);
      show($('stripe-card'), true);
      await mountStripeCard();
    }
  }

  async function saveCard() {
    const clientSecret = $('card-step').dataset.clientSecret;
    if (!clientSecret) return;
    const button = $('save-card');
    const generation = state.generation;
    button.disabled = true;
    showError('');
    try {
      if (state.settings.testMode) {
        const card = document.querySelector('input[name="test-card"]:checked')?.value;
        if (!card) throw new Error('Pick a test card first.');
        const result = await api(
          'POST',
          `/v1/portal/test-mode/setup-intents/${intentId(clientSecret)}/confirm`,
          {
            card,
          },
        );
        if (result.requiresAction) {
          state.setupAuth = true;
          renderAuthStep({ kind: 'setup', clientSecret });
        }
      } else {
        const stripe = await loadStripe();
        const { error } = await stripe.confirmCardSetup(clientSecret, {
          payment_method: { card: state.cardElement },
        });
        if (generation !== state.generation) throw staleError();
        if (error) throw new Error(error.message);
      }
      $('progress-text').textContent = 'Card received; waiting for the payment…';
    } catch (error) {
      showFailure(error);
    } finally {
      if (generation === state.generation) button.disabled = false;
    }
  }

  // ── "Authenticate" (3-D Secure) ───────────────────────────────────────────────────────────────
  function renderAuthStep(what) {
    const step = $('auth-step');
    if (!what) {
      show(step, false);
      delete step.dataset.kind;
      delete step.dataset.clientSecret;
      return;
    }
    step.dataset.kind = what.kind;
    step.dataset.clientSecret = what.clientSecret;
    $('auth-text').textContent =
      what.kind === 'setup'
        ? 'Your bank asks you to confirm this card (3-D Secure).'
        : 'Your bank asks you to confirm this payment (3-D Secure).';
    show($('test-auth'), state.settings.testMode);
    show($('auth-real'), !state.settings.testMode);
    show(step, true);
  }

  async function authenticate(outcome) {
    const step = $('auth-step');
    const { kind, clientSecret } = step.dataset;
    if (!clientSecret) return;
    const generation = state.generation;
    for (const b of step.querySelectorAll('button')) b.disabled = true;
    showError('');
    try {
      if (state.settings.testMode) {
        const path =
          kind === 'setup'
            ? `/v1/portal/test-mode/setup-intents/${intentId(clientSecret)}/authenticate`
            : `/v1/portal/test-mode/payment-intents/${intentId(clientSecret)}/authenticate`;
        await api('POST', path, { outcome });
      } else {
        const stripe = await loadStripe();
        const { error } =
          kind === 'setup'
            ? await stripe.confirmCardSetup(clientSecret)
            : await confirmPaymentWithStripeJs(stripe, clientSecret);
        if (generation !== state.generation) throw staleError();
        if (error) throw new Error(error.message);
      }
      state.setupAuth = false;
      show(step, false);
      $('progress-text').textContent = 'Thanks; waiting for your bank’s answer…';
    } catch (error) {
      showFailure(error);
    } finally {
      if (generation === state.generation)
        for (const b of step.querySelectorAll('button')) b.disabled = false;
    }
  }

  // ── Real Stripe: Stripe.js (offline test: test/browser/stripe-js.test.ts, a fake Stripe.js) ───
  let stripeJs = null; // Stripe.js loading, once per page
  function loadStripe() {
    const key = state.settings.stripePublishableKey;
    if (!key) {
      return Promise.reject(new Error('Card payments are not configured (no Stripe publishable key).'));
    }
    if (state.stripe && state.stripeKey === key) return Promise.resolve(state.stripe);
    stripeJs ??= new Promise((resolve, reject) => {
      const script = el('script', { src: 'https://js.stripe.com/v3/' });
      script.onload = () => resolve();
      script.onerror = () => {
        stripeJs = null;
        reject(new Error('Could not load Stripe.js.'));
      };
      document.head.append(script);
    });
    return stripeJs.then(() => {
      if (!(state.stripe && state.stripeKey === key)) {
        state.stripe = window.Stripe(key);
        state.stripeKey = key;
      }
      return state.stripe;
    });
  }

  async function mountStripeCard() {
    if (state.cardElement) return;
    const generation = state.generation;
    const stripe = await loadStripe();
    if (generation !== state.generation) throw staleError();
    if (state.cardElement) return;
    state.cardElement = stripe.elements().create('card');
    state.cardElement.mount('#stripe-card');
  }

  async function confirmPaymentWithStripeJs(stripe, clientSecret) {
    // After an off-session authentication_required, the PaymentIntent wants its card again, on-session.
    const { paymentIntent } = await stripe.retrievePaymentIntent(clientSecret);
    const card = paymentIntent?.last_payment_error?.payment_method?.id || paymentIntent?.payment_method;
    return stripe.confirmCardPayment(clientSecret, card ? { payment_method: card } : undefined);
  }

  // ── Cancel ────────────────────────────────────────────────────────────────────────────────────
  async function cancel() {
    if (!state.current) return;
    const button = $('cancel');
    const generation = state.generation;
    button.disabled = true;
    showError('');
    try {
      const purchase = await api('POST', `/v1/portal/purchases/${state.current.id}/cancel`);
      follow(purchase);
      await loadHistory();
    } catch (error) {
      if (!isStale(error)) showError(error.message);
    } finally {
      if (generation === state.generation) button.disabled = false;
    }
  }

  // ── Switching customer ────────────────────────────────────────────────────────────────────────
  /** Forgets the customer shown: their requests, polling, purchase, card and 3-D Secure steps, page. */
  function forgetCustomer() {
    state.generation += 1;
    state.abort.abort();
    state.abort = new AbortController();
    clearTimeout(state.pollTimer);
    state.pollTimer = null;
    state.current = null;
    state.busy = false;
    state.unanswered = null;
    state.setupAuth = false;
    state.settings = null;
    state.packs = new Map();
    for (const key of ['cardElement', 'replaceCardElement']) {
      if (!state[key]) continue;
      try {
        state[key].destroy?.();
      } catch {
        // already gone with the node it was mounted on
      }
      state[key] = null;
    }
    state.replacement = null;
    delete document.body.dataset.ready;

    showError('');
    $('who').textContent = '';
    for (const id of ['plan-credits', 'purchased-credits', 'total-credits']) {
      $(id).textContent = '–';
      $(id).classList.remove('negative');
    }
    $('debt').textContent = '';
    show($('debt'), false);
    $('card-summary').textContent = '–';
    delete $('card-summary').dataset.last4;
    show($('card-saved'), false);
    show($('replace-card'), false);
    show($('replace-step'), false);
    show($('replace-auth'), false);
    show($('replace-test-cards'), false);
    $('replace-test-card-options').replaceChildren();
    show($('replace-stripe-card'), false);
    $('replace-stripe-card').replaceChildren();
    show($('use-another-card'), false);
    show($('auto-top-up'), false);
    $('auto-state').textContent = '';
    delete $('auto-state').dataset.state;
    show($('auto-paused'), false);
    show($('auto-saved'), false);
    $('auto-form').reset();
    $('auto-pack').replaceChildren();
    $('auto-save').disabled = false;
    $('cannot-buy').textContent = '';
    show($('cannot-buy'), false);
    $('packs').replaceChildren();
    $('history').replaceChildren();
    show($('history-empty'), true);
    show($('history-table'), false);

    const progress = $('progress');
    show(progress, false);
    delete progress.dataset.purchaseId;
    delete progress.dataset.status;
    $('progress-summary').textContent = '';
    $('progress-status').className = 'status';
    $('progress-status').textContent = '';
    $('progress-text').textContent = '';
    const cardStep = $('card-step');
    show(cardStep, false);
    delete cardStep.dataset.clientSecret;
    show($('test-cards'), false);
    $('test-card-options').replaceChildren();
    show($('stripe-card'), false);
    $('stripe-card').replaceChildren();
    renderAuthStep(null);
    show($('cancel'), false);
    for (const id of [
      'save-card',
      'auth-succeed',
      'auth-fail',
      'auth-real',
      'cancel',
      'replace-card',
      'use-another-card',
      'save-replacement',
      'replace-auth-succeed',
      'replace-auth-fail',
    ])
      $(id).disabled = false;
  }

  /** Shows the customer of `token`: who, balance, packs, history, and a purchase still in flight. */
  async function showCustomer(token) {
    forgetCustomer();
    state.token = token;
    try {
      const [settings, me, packs] = await Promise.all([
        api('GET', '/v1/portal/settings'),
        api('GET', '/v1/portal/me'),
        api('GET', '/v1/portal/credit-packs'),
      ]);
      state.settings = settings;
      show($('test-mode'), settings.testMode);
      showWho(me);
      renderPacks(packs, me);
      const [, purchases] = await Promise.all([loadBalance(), loadHistory(), loadCard(), loadAutoTopUp()]);
      // Pick up a purchase still in flight (the page was reloaded mid-purchase).
      const open = purchases.find((p) => !terminal.includes(p.status));
      if (open) follow(open);
      document.body.dataset.ready = 'true';
    } catch (error) {
      if (isStale(error)) return;
      showError(
        error.code === 'unauthorized' ? 'Your portal link has expired. Ask for a new one.' : error.message,
      );
    }
  }

  /** Another portal link opened in this tab: only the fragment changed, so the page was not reloaded. */
  function onHashChange() {
    const token = tokenFromHash();
    if (!token || token === state.token) return;
    showCustomer(token);
  }

  // ── Start ─────────────────────────────────────────────────────────────────────────────────────
  function start() {
    $('save-card').addEventListener('click', saveCard);
    $('auth-succeed').addEventListener('click', () => authenticate('succeed'));
    $('auth-fail').addEventListener('click', () => authenticate('fail'));
    $('auth-real').addEventListener('click', () => authenticate('succeed'));
    $('cancel').addEventListener('click', cancel);
    $('replace-card').addEventListener('click', () => openReplacement(null));
    $('use-another-card').addEventListener('click', useAnotherCard);
    $('save-replacement').addEventListener('click', saveReplacement);
    $('close-replacement').addEventListener('click', closeReplacement);
    $('replace-auth-succeed').addEventListener('click', () => authenticateReplacement('succeed'));
    $('replace-auth-fail').addEventListener('click', () => authenticateReplacement('fail'));
    $('auto-form').addEventListener('submit', saveAutoTopUp);
    window.addEventListener('hashchange', onHashChange);
    const token = readToken();
    if (!token) {
      showError('This page needs a portal link (…/portal#token=…). Ask your provider for a new one.');
      return;
    }
    showCustomer(token);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
