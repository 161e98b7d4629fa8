//! Passkey groundwork: the relying party checked at start, and the passkey table on both backends.

use app::passkeys::store::{NewPasskey, delete_passkey, find_by_credential_id, insert_passkey, list_passkeys_of_account, record_use, rename_passkey};

use crate::on_both_backends;
use crate::support::unique_email;

#[tokio::test]
async fn the_server_refuses_to_start_when_the_passkey_rp_id_does_not_fit_the_public_url() {
    let data = tempfile::tempdir().unwrap();
    let config = app::config::Config {
        public_url: "https://developers.example.com".into(),
        passkey_rp_id: Some("example.org".into()),
        data_dir: data.path().to_path_buf(),
        database_url: format!("sqlite://{}/mast.db", data.path().display()),
        ..app::config::Config::default()
    };
    let err = server::startup::build_state(config).await.err().expect("refused");
    let message = err.to_string();
    assert!(message.contains("https://developers.example.com") && message.contains("example.org"), "{message}");
    assert!(message.contains("MAST_PASSKEY_RP_ID"), "{message}");
}

on_both_backends! {
    async fn passkeys_are_unique_across_accounts_and_only_their_owner_can_change_them(app: TestApp) {
        let (ada, eve) = (unique_email("ada"), unique_email("eve"));
        app.sign_up(&ada).await;
        app.sign_up(&eve).await;
        let (ada, eve) = (app.account_id(&ada).await, app.account_id(&eve).await);
        let now = app::db::now();
        let key = NewPasskey { account_id: ada, credential_id: "Y3JlZC0x", credential: r#"{"cred":"ada"}"#, name: "Chrome on Linux", backed_up: true };
        let id = insert_passkey(&app.db, &key, now).await.unwrap();

        // The same credential id for another account is refused and changes nothing.
        let stolen = NewPasskey { account_id: eve, credential: r#"{"cred":"eve"}"#, ..key };
        let err = insert_passkey(&app.db, &stolen, now).await.unwrap_err();
        assert!(app::db::is_unique_violation(&err));
        assert!(list_passkeys_of_account(&app.db, eve).await.unwrap().is_empty());

        assert!(!rename_passkey(&app.db, eve, id, "mine now").await.unwrap());
        assert!(!delete_passkey(&app.db, eve, id).await.unwrap());
        let row = find_by_credential_id(&app.db, "Y3JlZC0x").await.unwrap().unwrap();
        assert_eq!((row.account_id, row.name.as_str(), row.backed_up), (ada, "Chrome on Linux", true));
        assert!(row.last_used_at.is_none());

        record_use(&app.db, id, r#"{"cred":"ada","counter":2}"#, false, now).await.unwrap();
        assert!(rename_passkey(&app.db, ada, id, "Work laptop").await.unwrap());
        let rows = list_passkeys_of_account(&app.db, ada).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].name.as_str(), rows[0].backed_up, rows[0].last_used_at), ("Work laptop", false, Some(now)));
        assert!(rows[0].credential.contains("counter"));

        assert!(delete_passkey(&app.db, ada, id).await.unwrap());
        assert!(find_by_credential_id(&app.db, "Y3JlZC0x").await.unwrap().is_none());
    }
}
