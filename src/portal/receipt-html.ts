import type { ReceiptFacts } from '../db/receipts';
import type { Receipt } from '../purchases/receipts';

/** The printable HTML of a receipt (GET …/receipt with `Accept: text/html` first). */

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const money = (cents: number): string => `$${(cents / 100).toFixed(2)}`;
const day = (iso: string): string => iso.slice(0, 10);

/** Whether the first media type the client accepts is text/html. */
export function wantsHtml(accept: string | undefined): boolean {
  const first = (accept ?? '').split(',')[0]?.split(';')[0]?.trim().toLowerCase();
  return first === 'text/html';
}

export function receiptHtml(
  receipt: Receipt,
  facts: Pick<ReceiptFacts, 'organizationName' | 'customer'>,
): string {
  const lines = receipt.lines
    .map(
      (l) =>
        `<tr data-testid="receipt-line"><td>${escapeHtml(l.description)}</td><td class="n">${l.quantity}</td><td class="n">${money(l.unitAmount)}</td><td class="n">${money(l.amount)}</td></tr>`,
    )
    .join('');
  const refunds = receipt.refunds
    .map(
      (r) =>
        `<tr data-testid="receipt-refund"><td>${day(r.createdAt)}</td><td>${escapeHtml(r.id)}</td><td>${escapeHtml(r.status)}</td><td class="n">−${money(r.amount)}</td></tr>`,
    )
    .join('');
  const card = receipt.paymentMethod
    ? `${escapeHtml(receipt.paymentMethod.brand.toUpperCase())} ending in ${escapeHtml(receipt.paymentMethod.last4)}`
    : 'Card';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Receipt #${receipt.number} — ${escapeHtml(facts.organizationName)}</title>
<style>
  body { font: 14px/1.5 system-ui, sans-serif; color: #111; max-width: 42rem; margin: 2rem auto; padding: 0 1rem; }
  h1 { font-size: 1.4rem; margin-bottom: 0; }
  table { width: 100%; border-collapse: collapse; margin: 1rem 0; }
  th, td { text-align: left; padding: .35rem .25rem; border-bottom: 1px solid #ddd; }
  .n { text-align: right; }
  .total td { font-weight: 600; border-bottom: none; }
  .muted { color: #555; }
  @media print { body { margin: 0; } .noprint { display: none; } }
</style>
</head>
<body>
<h1 data-testid="receipt-title">Receipt #<span data-testid="receipt-number">${receipt.number}</span></h1>
<p class="muted">${escapeHtml(facts.organizationName)} · issued ${day(receipt.issuedAt)} · purchase ${escapeHtml(receipt.purchaseId)}</p>
<p>Billed to ${escapeHtml(facts.customer.name)} &lt;${escapeHtml(facts.customer.email)}&gt;</p>
<table>
<thead><tr><th>Description</th><th class="n">Quantity</th><th class="n">Unit price</th><th class="n">Amount</th></tr></thead>
<tbody>${lines}</tbody>
<tfoot><tr class="total"><td colspan="3">Total (${escapeHtml(receipt.currency.toUpperCase())})</td><td class="n" data-testid="receipt-total">${money(receipt.total)}</td></tr></tfoot>
</table>
<p data-testid="receipt-payment">Paid with ${card}</p>
${
  receipt.refunds.length > 0
    ? `<h2>Refunds</h2><table><thead><tr><th>Date</th><th>Refund</th><th>Status</th><th class="n">Amount</th></tr></thead><tbody>${refunds}</tbody></table>`
    : ''
}
<p class="noprint"><button type="button" onclick="window.print()">Print</button></p>
</body>
</html>
`;
}
