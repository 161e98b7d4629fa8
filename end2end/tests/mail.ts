// Reads messages from the SMTP sink (maildev's REST API) the way a person opens their inbox.
const SINK = process.env.MAST_TEST_SINK_URL ?? "http://127.0.0.1:1080";

type Message = { subject: string; text: string; to: { address: string }[] };

export async function waitForMail(to: string, subject: RegExp): Promise<Message> {
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${SINK}/api/email`);
    const all = (await res.json()) as Message[];
    const found = all.find((m) => m.to.some((t) => t.address.toLowerCase() === to.toLowerCase()) && subject.test(m.subject));
    if (found) return found;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no mail to ${to} matching ${subject}`);
}

export function firstLink(text: string): string {
  const m = text.match(/https?:\/\/\S+/);
  if (!m) throw new Error(`no link in: ${text}`);
  return m[0];
}
