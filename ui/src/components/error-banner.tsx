// A failed call, in the person's language: the backend's code picks the message.
import { isMessageKey } from "../i18n";
import { useT } from "../i18n/context";

export function ErrorBanner(props: { code: string | null }) {
  const { t } = useT();
  if (props.code === null) return null;
  const key = `error.${props.code}`;
  return (
    <p class="banner error" role="alert" data-testid="error" data-code={props.code}>
      {t(isMessageKey(key) ? key : "error.unexpected")}
    </p>
  );
}
