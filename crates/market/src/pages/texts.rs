//! Every string of the buyer pages in zh-CN, en and it. One struct, three values: a language that
//! lacks a string does not compile.

use domain::order::{OrderStatus, PaymentMethod};
use domain::quantity::Unit;

/// A buyer page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    ZhCn,
    En,
    It,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::ZhCn, Lang::En, Lang::It];

    /// The BCP 47 tag, for `<html lang>`, the cookie and the `?lang=` switch.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::ZhCn => "zh-CN",
            Lang::En => "en",
            Lang::It => "it",
        }
    }

    /// The language's own name, for the switcher.
    pub fn name(self) -> &'static str {
        match self {
            Lang::ZhCn => "中文",
            Lang::En => "English",
            Lang::It => "Italiano",
        }
    }

    /// Matches a tag loosely: "zh", "zh-TW", "en-GB", "it-IT".
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "zh" => Some(Lang::ZhCn),
            "en" => Some(Lang::En),
            "it" => Some(Lang::It),
            _ => None,
        }
    }

    /// The best supported language in an `Accept-Language` header, by q-value; Chinese when none.
    pub fn negotiate(accept_language: &str) -> Lang {
        let mut best: Option<(Lang, u32)> = None;
        for item in accept_language.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("");
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .map_or(1000, |q| (q.clamp(0.0, 1.0) * 1000.0) as u32);
            if let Some(lang) = Lang::from_tag(tag)
                && quality > 0
                && best.is_none_or(|(_, q)| quality > q)
            {
                best = Some((lang, quality));
            }
        }
        best.map_or(Lang::ZhCn, |(lang, _)| lang)
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::ZhCn => &ZH_CN,
            Lang::En => &EN,
            Lang::It => &IT,
        }
    }

    /// The decimal separator people expect.
    pub fn decimal_comma(self) -> bool {
        self == Lang::It
    }
}

pub struct Texts {
    pub marketplace: &'static str,
    pub from_farm: &'static str,
    pub per: &'static str,
    /// `{}` is the quantity left.
    pub left: &'static str,
    pub sold_out: &'static str,
    pub sold_out_hint: &'static str,
    pub not_for_sale: &'static str,
    pub quantity: &'static str,
    pub your_name: &'static str,
    pub your_phone: &'static str,
    pub how_to_receive: &'static str,
    pub pickup_at: &'static str,
    pub delivery: &'static str,
    pub address: &'static str,
    pub payment: &'static str,
    pub note: &'static str,
    pub optional: &'static str,
    pub place_order: &'static str,
    pub total_note: &'static str,
    pub fix_below: &'static str,
    pub share: &'static str,
    pub order_received: &'static str,
    pub order_number: &'static str,
    pub keep_this_link: &'static str,
    pub status: &'static str,
    pub total: &'static str,
    pub paid: &'static str,
    pub unpaid: &'static str,
    pub reason: &'static str,
    pub farm_produce: &'static str,
    pub nothing_for_sale: &'static str,
    pub order_this: &'static str,
    pub not_found_title: &'static str,
    pub not_found_text: &'static str,
    pub bad_request_text: &'static str,
    pub too_many_text: &'static str,
    pub error_text: &'static str,
    pub refresh: &'static str,
    pub home_text: &'static str,
    /// Messages for refusal codes, by field where it matters.
    pub errors: ErrorTexts,
    pub units: UnitTexts,
    pub statuses: StatusTexts,
    pub payments: PaymentTexts,
    pub live: LiveTexts,
}

/// The live page's texts; the page hands them to its script in `data-` attributes.
pub struct LiveTexts {
    pub live: &'static str,
    /// `{}` is the farmer's name.
    pub waiting: &'static str,
    pub reconnecting: &'static str,
    /// The picture stopped while the connection holds, and the server has not said why. `{}` is
    /// the farmer's name.
    pub stalled: &'static str,
    /// The server says no picture reaches it from the farmer: the farmer's uplink dropped, not
    /// the buyer's line. `{}` is the farmer's name.
    pub interrupted: &'static str,
    pub ended: &'static str,
    pub unsupported: &'static str,
    pub tap_for_sound: &'static str,
    pub buy: &'static str,
    /// `{}` is a number.
    pub watching: &'static str,
    /// `{}` is a number.
    pub orders: &'static str,
    pub close: &'static str,
    pub watch_live: &'static str,
    pub on_camera: &'static str,
    pub video_label: &'static str,
}

pub struct ErrorTexts {
    pub required: &'static str,
    pub invalid_phone: &'static str,
    pub quantity: &'static str,
    pub too_long: &'static str,
    pub pickup_point: &'static str,
    pub payment_method: &'static str,
    pub insufficient_stock: &'static str,
    pub generic: &'static str,
}

pub struct UnitTexts {
    pub kg: &'static str,
    pub g: &'static str,
    pub jin: &'static str,
    pub piece: &'static str,
    pub bunch: &'static str,
    pub r#box: &'static str,
    pub dozen: &'static str,
    pub litre: &'static str,
}

pub struct StatusTexts {
    pub placed: &'static str,
    pub confirmed: &'static str,
    pub packed: &'static str,
    pub shipped: &'static str,
    pub ready_for_pickup: &'static str,
    pub delivered: &'static str,
    pub cancelled: &'static str,
    pub declined: &'static str,
}

pub struct PaymentTexts {
    pub cash_on_delivery: &'static str,
    pub cash_at_pickup: &'static str,
    pub bank_transfer: &'static str,
}

impl Texts {
    pub fn unit(&self, unit: Unit) -> &'static str {
        let u = &self.units;
        match unit {
            Unit::Kg => u.kg,
            Unit::G => u.g,
            Unit::Jin => u.jin,
            Unit::Piece => u.piece,
            Unit::Bunch => u.bunch,
            Unit::Box => u.r#box,
            Unit::Dozen => u.dozen,
            Unit::Litre => u.litre,
        }
    }

    pub fn status(&self, status: OrderStatus) -> &'static str {
        let s = &self.statuses;
        match status {
            OrderStatus::Placed => s.placed,
            OrderStatus::Confirmed => s.confirmed,
            OrderStatus::Packed => s.packed,
            OrderStatus::Shipped => s.shipped,
            OrderStatus::ReadyForPickup => s.ready_for_pickup,
            OrderStatus::Delivered => s.delivered,
            OrderStatus::Cancelled => s.cancelled,
            OrderStatus::Declined => s.declined,
        }
    }

    pub fn payment(&self, method: PaymentMethod) -> &'static str {
        let p = &self.payments;
        match method {
            PaymentMethod::CashOnDelivery => p.cash_on_delivery,
            PaymentMethod::CashAtPickup => p.cash_at_pickup,
            PaymentMethod::BankTransfer => p.bank_transfer,
        }
    }
}

pub static ZH_CN: Texts = Texts {
    marketplace: "田播集市",
    from_farm: "来自",
    per: "每",
    left: "剩余 {}",
    sold_out: "已售罄",
    sold_out_hint: "这件商品已经卖完了。看看农场的其他商品吧。",
    not_for_sale: "暂不销售",
    quantity: "数量",
    your_name: "您的姓名",
    your_phone: "手机号码",
    how_to_receive: "取货方式",
    pickup_at: "到自提点取货",
    delivery: "送货上门",
    address: "送货地址",
    payment: "付款方式",
    note: "备注",
    optional: "选填",
    place_order: "下单",
    total_note: "价格以卖家标价为准，由服务器计算。",
    fix_below: "请修改下面标出的内容。",
    share: "扫码或分享这个链接",
    order_received: "订单已收到",
    order_number: "订单号",
    keep_this_link: "请收藏本页：凭这个链接查看订单进度。",
    status: "状态",
    total: "合计",
    paid: "已付款",
    unpaid: "未付款",
    reason: "原因",
    farm_produce: "在售农产品",
    nothing_for_sale: "目前没有在售的商品。",
    order_this: "去下单",
    not_found_title: "找不到页面",
    not_found_text: "这个链接不存在或已失效。",
    bad_request_text: "提交的内容无法识别，请返回重试。",
    too_many_text: "操作太频繁，请稍后再试。",
    error_text: "出了点问题，请稍后再试。",
    refresh: "刷新",
    home_text: "用手机扫描农户的二维码或打开订单链接即可下单。",
    errors: ErrorTexts {
        required: "必填",
        invalid_phone: "请输入正确的手机号码",
        quantity: "请选择有效的数量",
        too_long: "内容太长",
        pickup_point: "请选择自提点",
        payment_method: "这种付款方式和取货方式不匹配",
        insufficient_stock: "库存不足，请减少数量",
        generic: "请检查这一项",
    },
    units: UnitTexts { kg: "公斤", g: "克", jin: "斤", piece: "个", bunch: "把", r#box: "箱", dozen: "打", litre: "升" },
    statuses: StatusTexts {
        placed: "已下单",
        confirmed: "已确认",
        packed: "已打包",
        shipped: "已发货",
        ready_for_pickup: "可以取货",
        delivered: "已完成",
        cancelled: "已取消",
        declined: "已拒绝",
    },
    payments: PaymentTexts { cash_on_delivery: "货到付款", cash_at_pickup: "取货时付现金", bank_transfer: "银行转账" },
    live: LiveTexts {
        live: "直播中",
        waiting: "等待{}开播…",
        reconnecting: "连接中断，正在重新连接…",
        stalled: "{}的画面暂停了，正在等待恢复…",
        interrupted: "{}的网络中断了，正在等待恢复…",
        ended: "直播已结束，感谢观看！",
        unsupported: "此浏览器无法播放直播视频，您仍可在下方下单。",
        tap_for_sound: "点击开启声音",
        buy: "购买",
        watching: "{}人在看",
        orders: "{}单",
        close: "关闭",
        watch_live: "观看直播",
        on_camera: "正在展示",
        video_label: "直播视频",
    },
};

pub static EN: Texts = Texts {
    marketplace: "Fieldcast market",
    from_farm: "From",
    per: "per",
    left: "{} left",
    sold_out: "Sold out",
    sold_out_hint: "This product is sold out. Have a look at the farm's other produce.",
    not_for_sale: "Not for sale right now",
    quantity: "Quantity",
    your_name: "Your name",
    your_phone: "Phone number",
    how_to_receive: "How to receive it",
    pickup_at: "Pick up at",
    delivery: "Delivery to my address",
    address: "Delivery address",
    payment: "Payment",
    note: "Note",
    optional: "optional",
    place_order: "Place order",
    total_note: "Prices are the farmer's, computed by the server.",
    fix_below: "Please fix the fields marked below.",
    share: "Scan or share this link",
    order_received: "Order received",
    order_number: "Order number",
    keep_this_link: "Bookmark this page: this link shows your order's progress.",
    status: "Status",
    total: "Total",
    paid: "Paid",
    unpaid: "Not paid yet",
    reason: "Reason",
    farm_produce: "Produce for sale",
    nothing_for_sale: "Nothing for sale right now.",
    order_this: "Order",
    not_found_title: "Page not found",
    not_found_text: "This link does not exist or has expired.",
    bad_request_text: "The form could not be read. Please go back and try again.",
    too_many_text: "Too many attempts. Please try again in a moment.",
    error_text: "Something went wrong. Please try again later.",
    refresh: "Refresh",
    home_text: "Scan a farmer's QR code or open an order link to order.",
    errors: ErrorTexts {
        required: "Required",
        invalid_phone: "Enter a valid phone number",
        quantity: "Choose a valid quantity",
        too_long: "Too long",
        pickup_point: "Choose a pickup point",
        payment_method: "This payment method does not fit how you receive the order",
        insufficient_stock: "Not enough left; choose less",
        generic: "Please check this",
    },
    units: UnitTexts { kg: "kg", g: "g", jin: "jin", piece: "piece", bunch: "bunch", r#box: "box", dozen: "dozen", litre: "litre" },
    statuses: StatusTexts {
        placed: "Placed",
        confirmed: "Confirmed",
        packed: "Packed",
        shipped: "Shipped",
        ready_for_pickup: "Ready for pickup",
        delivered: "Delivered",
        cancelled: "Cancelled",
        declined: "Declined",
    },
    payments: PaymentTexts { cash_on_delivery: "Cash on delivery", cash_at_pickup: "Cash at pickup", bank_transfer: "Bank transfer" },
    live: LiveTexts {
        live: "LIVE",
        waiting: "Waiting for {} to go live…",
        reconnecting: "Connection lost. Reconnecting…",
        stalled: "The picture from {} has stopped. Waiting for it to come back…",
        interrupted: "{}'s connection has dropped. Waiting for it to come back…",
        ended: "This live stream has ended. Thank you for watching!",
        unsupported: "This browser cannot play live video. You can still order below.",
        tap_for_sound: "Tap for sound",
        buy: "Buy",
        watching: "{} watching",
        orders: "{} orders",
        close: "Close",
        watch_live: "Watch live",
        on_camera: "On camera now",
        video_label: "Live video",
    },
};

pub static IT: Texts = Texts {
    marketplace: "Mercato Fieldcast",
    from_farm: "Da",
    per: "al",
    left: "{} disponibili",
    sold_out: "Esaurito",
    sold_out_hint: "Questo prodotto è esaurito. Guarda gli altri prodotti della fattoria.",
    not_for_sale: "Al momento non in vendita",
    quantity: "Quantità",
    your_name: "Il tuo nome",
    your_phone: "Telefono",
    how_to_receive: "Come ricevere l'ordine",
    pickup_at: "Ritiro a",
    delivery: "Consegna al mio indirizzo",
    address: "Indirizzo di consegna",
    payment: "Pagamento",
    note: "Nota",
    optional: "facoltativa",
    place_order: "Ordina",
    total_note: "I prezzi sono quelli del produttore, calcolati dal server.",
    fix_below: "Correggi i campi segnati qui sotto.",
    share: "Inquadra o condividi questo link",
    order_received: "Ordine ricevuto",
    order_number: "Numero d'ordine",
    keep_this_link: "Salva questa pagina: il link mostra lo stato del tuo ordine.",
    status: "Stato",
    total: "Totale",
    paid: "Pagato",
    unpaid: "Non ancora pagato",
    reason: "Motivo",
    farm_produce: "Prodotti in vendita",
    nothing_for_sale: "Al momento niente in vendita.",
    order_this: "Ordina",
    not_found_title: "Pagina non trovata",
    not_found_text: "Questo link non esiste o è scaduto.",
    bad_request_text: "Il modulo non è leggibile. Torna indietro e riprova.",
    too_many_text: "Troppi tentativi. Riprova tra poco.",
    error_text: "Qualcosa è andato storto. Riprova più tardi.",
    refresh: "Aggiorna",
    home_text: "Inquadra il QR di un produttore o apri un link d'ordine per ordinare.",
    errors: ErrorTexts {
        required: "Obbligatorio",
        invalid_phone: "Inserisci un numero di telefono valido",
        quantity: "Scegli una quantità valida",
        too_long: "Troppo lungo",
        pickup_point: "Scegli un punto di ritiro",
        payment_method: "Questo pagamento non è adatto al modo di ricevere l'ordine",
        insufficient_stock: "Quantità non disponibile; scegline meno",
        generic: "Controlla questo campo",
    },
    units: UnitTexts {
        kg: "kg",
        g: "g",
        jin: "jin",
        piece: "pezzo",
        bunch: "mazzo",
        r#box: "cassa",
        dozen: "dozzina",
        litre: "litro",
    },
    statuses: StatusTexts {
        placed: "Ricevuto",
        confirmed: "Confermato",
        packed: "Preparato",
        shipped: "Spedito",
        ready_for_pickup: "Pronto per il ritiro",
        delivered: "Consegnato",
        cancelled: "Annullato",
        declined: "Rifiutato",
    },
    payments: PaymentTexts { cash_on_delivery: "Contanti alla consegna", cash_at_pickup: "Contanti al ritiro", bank_transfer: "Bonifico" },
    live: LiveTexts {
        live: "IN DIRETTA",
        waiting: "In attesa che {} vada in diretta…",
        reconnecting: "Connessione persa. Riconnessione…",
        stalled: "Il video di {} si è fermato. In attesa che riprenda…",
        interrupted: "La connessione di {} si è interrotta. In attesa che riprenda…",
        ended: "La diretta è finita. Grazie per averla guardata!",
        unsupported: "Questo browser non riproduce video in diretta. Puoi comunque ordinare qui sotto.",
        tap_for_sound: "Tocca per l'audio",
        buy: "Compra",
        watching: "{} spettatori",
        orders: "{} ordini",
        close: "Chiudi",
        watch_live: "Guarda la diretta",
        on_camera: "In camera ora",
        video_label: "Video in diretta",
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_by_quality_and_falls_back_to_chinese() {
        assert_eq!(Lang::negotiate("it-IT,it;q=0.9,en;q=0.8"), Lang::It);
        assert_eq!(Lang::negotiate("fr-FR, en;q=0.5, zh;q=0.7"), Lang::ZhCn);
        assert_eq!(Lang::negotiate("en-US"), Lang::En);
        assert_eq!(Lang::negotiate("de, fr"), Lang::ZhCn);
        assert_eq!(Lang::negotiate(""), Lang::ZhCn);
        assert_eq!(Lang::negotiate("en;q=0, it;q=0.1"), Lang::It);
        assert_eq!(Lang::negotiate("en;q=garbage"), Lang::En);
    }

    #[test]
    fn no_text_is_empty() {
        for lang in Lang::ALL {
            let t = lang.texts();
            for text in [t.marketplace, t.place_order, t.sold_out, t.order_received, t.errors.required, t.units.jin, t.statuses.placed] {
                assert!(!text.trim().is_empty(), "{lang:?}");
            }
        }
    }
}
