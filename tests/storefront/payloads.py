"""Contract payloads and constants shared by the storefront client tests."""

BASE_URL = "http://shop.test/prefix"
API_KEY = "secret-key"

PRODUCT = {
    "id": "hp-pavilion-15",
    "name": "HP Pavilion 15",
    "description": '15.6" FHD, Ryzen 7, 16GB RAM',
    "category": "laptops",
    "price": "799.99",
    "currency": "USD",
    "stock": 12,
    "rating": 4.4,
    "attributes": {"brand": "HP", "screen": "15.6in"},
}
CART = {
    "user_id": "user-123",
    "currency": "USD",
    "item_count": 2,
    "subtotal": "1599.98",
    "items": [
        {
            "product_id": "hp-pavilion-15",
            "name": "HP Pavilion 15",
            "unit_price": "799.99",
            "quantity": 2,
            "line_total": "1599.98",
        }
    ],
}
